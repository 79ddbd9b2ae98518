"""Processes started by a supervisor (`nmc up`, LocalStack) die with it, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ops.processes import stat_fields
from ops.stack import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

SUPERVISOR = textwrap.dedent(
    """
    import subprocess, sys, time
    from ops.stack import die_with_parent
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True, preexec_fn=die_with_parent()
    )
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its (new) parent to reap it.
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def test_a_child_in_a_session_of_its_own_is_stopped_when_its_supervisor_is_sigkilled() -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR], cwd=ROOT, stdout=subprocess.PIPE, env=os.environ | {"PYTHONPATH": str(ROOT)}
    )
    assert supervisor.stdout is not None
    child = int(supervisor.stdout.readline())
    try:
        assert alive(child)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(10)
        deadline = time.monotonic() + 10
        while alive(child):
            assert time.monotonic() < deadline, "the child outlived its SIGKILLed supervisor"
            time.sleep(0.05)
    finally:
        supervisor.stdout.close()
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait(10)
        if alive(child):
            os.kill(child, signal.SIGKILL)
