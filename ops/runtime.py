"""What every long-running `nmc` process does first: JSON logs with its name, multiprocess metrics, a heartbeat."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from db import heartbeats
from db.metrics import configure_multiprocess, reset_multiprocess_dir, start_metrics_server
from db.settings import Settings
from ops.logging import configure_logging

logger = logging.getLogger("nmc.runtime")


@dataclass
class ProcessHooks:
    name: str
    settings: Settings
    _redis: redis.Redis | None = field(default=None, repr=False)

    def on_tick(self) -> None:
        """Called from the process's main loop: refresh the liveness key (never let a Redis hiccup kill the loop)."""
        try:
            heartbeats.beat(
                self._client(),
                self.settings.dramatiq_namespace,
                self.name,
                ttl_seconds=self.settings.heartbeat_ttl_seconds,
                pid=os.getpid(),
            )
        except redis.RedisError as error:
            logger.warning("heartbeat not written: %s", error)

    def on_exit(self) -> None:
        """On a clean stop: remove the liveness key, so `nmc status` shows the process gone at once."""
        try:
            heartbeats.stop(self._client(), self.settings.dramatiq_namespace, self.name, pid=os.getpid())
        except redis.RedisError as error:
            logger.warning("heartbeat not removed (it expires on its own): %s", error)

    def _client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        return self._redis

    def serve_metrics(self, bind: str) -> None:
        try:
            start_metrics_server(bind, self.settings, self.name)
        except OSError as error:
            # Another local process may own the port; metrics are not worth refusing to run over.
            logger.warning("metrics not served on %s: %s", bind, error)


class ArbiterHeartbeat:
    """Gunicorn server hooks that beat for the arbiter while it has workers to serve with.

    The arbiter's loop offers no tick of its own, so a thread in the arbiter beats; the workers, which serve the
    requests, do no Redis round trip for it. Children forked while it runs do not inherit the thread.
    """

    def __init__(self, hooks: ProcessHooks) -> None:
        self._hooks = hooks
        self._stopping = threading.Event()
        self._interval = min(5.0, hooks.settings.heartbeat_ttl_seconds / 3)
        self._thread: threading.Thread | None = None

    def when_ready(self, server: Any) -> None:
        self._thread = threading.Thread(target=self._run, args=(server,), name="nmc-heartbeat", daemon=True)
        self._thread.start()

    def on_exit(self, server: Any) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=3)  # a beat in flight must not land after the key is removed
        self._hooks.on_exit()

    def _run(self, server: Any) -> None:
        while not self._stopping.is_set():
            serving = bool(server.WORKERS)  # none yet (booting) or all gone: not up
            if serving:
                self._hooks.on_tick()
            self._stopping.wait(self._interval if serving else 0.2)


def configure_process(settings: Settings, name: str) -> ProcessHooks:
    """Logging and metrics for process kind ``name``; call once in the parent, before any fork."""
    configure_logging(settings, name)
    reset_multiprocess_dir(settings, name)
    configure_multiprocess(settings, name)
    return ProcessHooks(name, settings)


def tick_every(hooks: ProcessHooks) -> Callable[[], None]:
    return hooks.on_tick
