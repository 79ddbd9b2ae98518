"""The long-running worker-side processes: dispatcher, Dramatiq worker pool, and the periodic scheduler."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.context import ForkProcess

import dramatiq
import redis

from db import heartbeats, lifetime
from db.heap import freeze_startup_heap
from db.metrics import mark_process_dead
from db.settings import Settings
from workers.bootstrap import build_dispatcher, build_runtime, build_worker_runtime, handler_modules
from workers.registry import load_subscriptions

logger = logging.getLogger("nmc.processes")


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run_dispatcher(settings: Settings, *, on_tick: Callable[[], None] | None = None) -> None:
    from workers.dispatcher import DispatcherLoop

    runtime = build_runtime(settings, role="dispatcher")
    loop = DispatcherLoop(
        build_dispatcher(runtime),
        settings.database_url,
        poll_interval_ms=settings.outbox_poll_interval_ms,
        on_tick=on_tick,
    )
    _stop_on_signals(loop.stopping)
    freeze_startup_heap()
    logger.info("dispatcher started; subscriptions: %s", runtime.registry.subscriptions)
    loop.run()
    runtime.engine.dispose()
    logger.info("dispatcher stopped")


def _worker_child(settings: Settings, threads: int, queues: tuple[str, ...], parent: int) -> None:
    stop = threading.Event()
    _stop_on_signals(stop)
    # A SIGKILLed pool parent cannot stop its children: the kernel's SIGTERM does, and they stop as on any SIGTERM.
    lifetime.die_with_parent(parent)
    runtime, runner = build_worker_runtime(settings, queues=queues or None)
    runner.warm_up(threads)
    worker = dramatiq.Worker(
        runtime.broker,
        queues=set(queues) if queues else None,
        # An idle consumer blocks up to worker_timeout ms on its queue's wake-up list (see workers/broker.py).
        worker_timeout=settings.worker_idle_poll_ms,
        worker_threads=threads,
    )
    freeze_startup_heap()
    worker.start()
    logger.info("worker process %d consuming %s", os.getpid(), sorted(runtime.registry.queues))
    # The pool parent beats for the pool; each consuming child beats too, so "ready" means consuming.
    beats = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    while True:
        try:
            heartbeats.beat(
                beats, settings.dramatiq_namespace, "worker-consumer", ttl_seconds=settings.heartbeat_ttl_seconds
            )
        except redis.RedisError as error:
            logger.warning("heartbeat not written: %s", error)
        if stop.wait(min(5.0, settings.heartbeat_ttl_seconds / 3)):
            break
    with contextlib.suppress(redis.RedisError):  # else the key runs out with its TTL
        heartbeats.stop(beats, settings.dramatiq_namespace, "worker-consumer")
    beats.close()
    worker.stop(timeout=10_000)
    runtime.broker.close()
    runtime.engine.dispose()


def run_worker(
    settings: Settings,
    *,
    processes: int,
    threads: int,
    queues: Iterable[str] = (),
    on_tick: Callable[[], None] | None = None,
) -> None:
    """Run a pool of worker processes, restarting any that die (a SIGKILLed worker is replaced)."""
    # A bad HANDLER_MODULES stops the pool here, in one line: found in the children, they would die and be replaced
    # forever.
    load_subscriptions(handler_modules(settings))
    context = multiprocessing.get_context("fork")
    wanted = tuple(queues)
    stop = threading.Event()
    _stop_on_signals(stop)

    def spawn() -> ForkProcess:
        # Forked from this (main) thread, which lives as long as the pool: its death is the pool's.
        child = context.Process(target=_worker_child, args=(settings, threads, wanted, os.getpid()), daemon=False)
        child.start()
        return child

    children = [spawn() for _ in range(processes)]
    while not stop.wait(0.5):
        if on_tick:
            on_tick()
        for index, child in enumerate(children):
            if not child.is_alive():
                logger.warning("worker process %s exited with %s; starting a replacement", child.pid, child.exitcode)
                if child.pid is not None:
                    mark_process_dead(settings, "worker", child.pid)
                children[index] = spawn()
    for child in children:
        if child.pid is not None and child.is_alive():
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        child.join(timeout=max(0.1, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
