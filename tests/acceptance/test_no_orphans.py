"""No process outlives the one that started it: a SIGKILLed worker-pool parent, gunicorn arbiter or `nmc up` takes
every process it started with it (checked in /proc, on real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.settings import Settings
from ops.harness.database import drop_database
from ops.processes import children, command_line, stat_fields
from ops.processes import descendants as process_tree
from ops.stack import LocalStack
from tests.support.up_env import up_env
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"),
]


def started_at(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None once it has gone or is a zombie (waiting only to
    be reaped). Together with the pid it names one process: pids are reused, and fast on a busy box."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return None if fields[0] == "Z" else int(fields[19])


def alive(pid: int, since: int | None = None) -> bool:
    now = started_at(pid)
    return now is not None and (since is None or now == since)


def descendants(pid: int) -> set[int]:
    return set(process_tree(pid)) - {pid}


def identify(pids: set[int]) -> dict[int, int]:
    """Each running pid with its start time: what to check later that it is still *that* process."""
    return {pid: since for pid in pids if (since := started_at(pid)) is not None}


def wait_for_children(parent: int, count: int, timeout: float) -> dict[int, int]:
    def enough() -> list[int] | None:
        found = children(parent)
        return found if len(found) == count else None

    return identify(set(wait_until(enough, timeout, f"{count} children of {parent}")))


def kill_survivors(identities: dict[int, int]) -> None:
    for pid, since in identities.items():
        if alive(pid, since):
            os.kill(pid, signal.SIGKILL)


def assert_all_gone(identities: dict[int, int], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while left := {pid for pid, since in identities.items() if alive(pid, since)}:
        if time.monotonic() > deadline:
            running = {pid: _command_line(pid) for pid in left}
            for pid in left:  # do not leave them consuming after the test either
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"{what}: {running} still running after {timeout} s")
        time.sleep(0.1)


def _command_line(pid: int) -> str:
    found = command_line(pid)
    return "?" if found is None else found


def test_worker_children_die_with_a_sigkilled_pool_parent(settings: Settings, tmp_path: Path) -> None:
    stack = LocalStack(settings.database_url, settings.redis_url, settings.dramatiq_namespace, log_dir=tmp_path)
    pool = stack.start_process("worker", "-p", "2", "-t", "2")
    try:
        children = wait_for_children(pool.pid, 2, 60)
        os.kill(pool.pid, signal.SIGKILL)  # the parent only: nothing signals its children for it
        pool.wait(10)
        # A child stops gracefully (finishing its in-flight messages, up to 10 s), then exits.
        assert_all_gone(children, 30, "worker children of a SIGKILLed pool parent")
    finally:
        stack.stop()


def test_gunicorn_workers_die_with_a_sigkilled_arbiter(settings: Settings, tmp_path: Path) -> None:
    stack = LocalStack(
        settings.database_url,
        settings.redis_url,
        settings.dramatiq_namespace,
        log_dir=tmp_path,
        extra_env={"INGRESS_WORKERS": "2"},
    )
    stack.start(["ingress"], timeout=60)
    try:
        arbiter = stack.processes["ingress"].pid
        workers = wait_for_children(arbiter, 2, 30)
        os.kill(arbiter, signal.SIGKILL)
        stack.processes["ingress"].wait(10)
        assert_all_gone(workers, 30, "gunicorn workers of a SIGKILLed arbiter")
    finally:
        stack.stop()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_nmc_up_leaves_no_process_behind(settings: Settings, tmp_path: Path, sig: signal.Signals) -> None:
    env = up_env(settings, WORKER_PROCESSES="2", INGRESS_WORKERS="2")
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "ops", "up", "--no-demo", "--no-migrate"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started: dict[int, int] = {}
    try:
        wait_until(lambda: b"NeverMissCall is up" in log_path.read_bytes() or up.poll() is not None, 120, "nmc up")
        assert up.poll() is None, log_path.read_text()[-3000:]
        started = identify(descendants(up.pid))
        # sandbox, ingress (arbiter + 2), dispatcher, worker (parent + 2), scheduler
        assert len(started) >= 9, (sorted(started), log_path.read_text()[-3000:])
        up.send_signal(sig)
        up.wait(60)
        assert_all_gone(started, 40, f"processes started by `nmc up` after its {sig.name}")
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        kill_survivors(started)


def test_a_sigkilled_outbox_bench_takes_its_pipeline_with_it(settings: Settings, tmp_path: Path) -> None:
    env = up_env(settings, WORKER_PROCESSES="1")
    log_path = tmp_path / "bench.log"
    with log_path.open("wb") as log:
        bench = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops",
                "bench",
                "outbox",
                "--dispatchers",
                "1",
                "--handlers",
                "db-only",
                "--steady-seconds",
                "30",
                "--worker-processes",
                "1",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started: dict[int, int] = {}
    try:

        def pipeline() -> set[int] | None:
            """The dispatcher and the worker pool's parent, once the pool has its child."""
            found = {pid for pid in children(bench.pid) if " -m ops " in _command_line(pid)}
            workers = [pid for pid in found if " worker " in _command_line(pid)]
            return found if len(found) == 2 and workers and children(workers[0]) else None

        found = wait_until(pipeline, 90, "the bench's dispatcher and worker")
        started = identify(found | {child for pid in found for child in descendants(pid)})
        bench.kill()
        bench.wait(10)
        assert_all_gone(started, 20, "the outbox bench's pipeline after its SIGKILL")
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(10)
        kill_survivors(started)
        scratch = settings.database_url.rsplit("/", 1)[0] + f"/{settings.database_name}_bench"
        drop_database(settings.model_copy(update={"database_url": scratch}))
