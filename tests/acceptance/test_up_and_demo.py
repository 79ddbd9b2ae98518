"""`nmc up` starts every process, `nmc demo` plays the conversation through them, Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.settings import Settings
from tests.support.up_env import up_env

pytestmark = pytest.mark.slow


def test_up_then_demo_then_ctrl_c(settings: Settings, tmp_path: Path) -> None:
    env = up_env(settings, WORKER_PROCESSES="1")
    log = (tmp_path / "up.log").open("wb")
    # A fresh working directory: nothing under .run exists yet, as on a fresh clone.
    up = subprocess.Popen(
        [sys.executable, "-m", "ops", "up", "--no-demo"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while b"NeverMissCall is up" not in (tmp_path / "up.log").read_bytes():
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()[-3000:]
            time.sleep(0.2)
        demo = subprocess.run(
            [sys.executable, "-m", "ops", "demo", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert demo.returncode == 0, demo.stdout.decode()[-2000:] + demo.stderr.decode()[-2000:]
        output = demo.stdout.decode()
        assert "booked:" in output
        # Written back to the booked technician's Google Calendar: the sandbox's stand-in holds the event.
        written = json.loads(output[output.rindex("\n{\n") :])["written_back"]
        assert written["calendar"].endswith("@ace-plumbing.example")
        assert f"written back to {written['calendar']}'s Google Calendar: {written['summary']!r} at " in output
        assert "conversation after STOP: blocked" in output
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
        assert b"stopped" in (tmp_path / "up.log").read_bytes()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
        log.close()
