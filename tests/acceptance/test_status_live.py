"""`nmc status` on a default install (DRAMATIQ_NAMESPACE unset, so "nmc") while real processes run and beat.

The default namespace is shared by every default install on this Redis, so the test asserts only about the pids of
the processes it started itself; its database is its own, so its dispatcher has nothing to enqueue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from db.settings import Settings
from ops.stack import ROOT, LocalStack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DEFAULT_NAMESPACE = "nmc"


def test_nmc_status_on_the_default_namespace_sees_the_running_processes(settings: Settings, tmp_path: Path) -> None:
    assert Settings.model_fields["dramatiq_namespace"].default == DEFAULT_NAMESPACE
    stack = LocalStack(settings.database_url, settings.redis_url, DEFAULT_NAMESPACE, log_dir=tmp_path)
    env = {key: value for key, value in os.environ.items() if key != "DRAMATIQ_NAMESPACE"}
    env |= {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "PYTHONPATH": str(ROOT)}

    def status(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops", "status", *args], env=env, capture_output=True, text=True, timeout=60
        )

    try:
        stack.start(["ingress", "dispatcher"], timeout=60)
        ingress, dispatcher = stack.processes["ingress"].pid, stack.processes["dispatcher"].pid

        def both_up() -> dict[str, Any] | None:
            run = status("--json")
            assert run.returncode == 0, run.stdout + run.stderr
            report: dict[str, Any] = json.loads(run.stdout)
            pids = {name: {beat["pid"] for beat in beats} for name, beats in report["processes"].items()}
            return report if ingress in pids.get("ingress", ()) and dispatcher in pids.get("dispatcher", ()) else None

        wait_until(both_up, 30, "the ingress and the dispatcher in `nmc status`")
        text = status()
        assert text.returncode == 0, text.stdout + text.stderr
        lines = {line.split()[1]: line for line in text.stdout.splitlines() if line.startswith("process")}
        for name, pid in (("ingress", ingress), ("dispatcher", dispatcher)):
            assert lines[name].split()[2] == "up", text.stdout
            assert str(pid) in lines[name], text.stdout
    finally:
        stack.stop()
    # A clean stop removes the heartbeats at once, rather than leaving them to run out with their TTL.
    gone = status("--json")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    left = json.loads(gone.stdout)["processes"]
    assert ingress not in {beat["pid"] for beat in left.get("ingress", [])}
    assert dispatcher not in {beat["pid"] for beat in left.get("dispatcher", [])}
