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
from ops.stack import ROOT, LocalStack, child_pids, free_port
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"),
]


def alive(pid: int) -> bool:
    """Running: not gone and not a zombie (a zombie only waits for its new parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for child in child_pids(pid):
        found |= {child} | descendants(child)
    return found


def assert_all_gone(pids: set[int], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while left := {pid for pid in pids if alive(pid)}:
        if time.monotonic() > deadline:
            running = {pid: _command_line(pid) for pid in left}
            for pid in left:  # do not leave them consuming after the test either
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"{what}: {running} still running after {timeout} s")
        time.sleep(0.1)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def test_worker_children_die_with_a_sigkilled_pool_parent(settings: Settings, tmp_path: Path) -> None:
    stack = LocalStack(settings.database_url, settings.redis_url, settings.dramatiq_namespace, log_dir=tmp_path)
    pool = stack.start_process("worker", "-p", "2", "-t", "2")
    try:
        children = set(wait_until(lambda: len(child_pids(pool.pid)) == 2 and child_pids(pool.pid), 60, "2 children"))
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
        workers = set(wait_until(lambda: len(child_pids(arbiter)) == 2 and child_pids(arbiter), 30, "2 workers"))
        os.kill(arbiter, signal.SIGKILL)
        stack.processes["ingress"].wait(10)
        assert_all_gone(workers, 30, "gunicorn workers of a SIGKILLed arbiter")
    finally:
        stack.stop()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_nmc_up_leaves_no_process_behind(settings: Settings, tmp_path: Path, sig: signal.Signals) -> None:
    ingress, sandbox = free_port(), free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
        "INGRESS_BIND": f"127.0.0.1:{ingress}",
        "SANDBOX_BIND": f"127.0.0.1:{sandbox}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ingress}",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{sandbox}",
        "CLERK_JWKS_URL": f"http://127.0.0.1:{sandbox}/.well-known/jwks.json",
        "DISPATCHER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "WORKER_METRICS_BIND": f"127.0.0.1:{free_port()}",
        "WORKER_PROCESSES": "2",
        "INGRESS_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "ops", "up", "--no-demo", "--no-migrate"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started: set[int] = set()
    try:
        wait_until(lambda: b"NeverMissCall is up" in log_path.read_bytes() or up.poll() is not None, 120, "nmc up")
        assert up.poll() is None, log_path.read_text()[-3000:]
        started = descendants(up.pid)
        # sandbox, ingress (arbiter + 2), dispatcher, worker (parent + 2), scheduler
        assert len(started) >= 9, (sorted(started), log_path.read_text()[-3000:])
        up.send_signal(sig)
        up.wait(60)
        assert_all_gone(started, 40, f"processes started by `nmc up` after its {sig.name}")
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
