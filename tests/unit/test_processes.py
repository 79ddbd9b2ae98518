"""ops/processes.py on real processes: the one reader of /proc (process trees, counters, command lines)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.processes import children, command_line, cpu_seconds, descendants, rss_kb, stat_fields, stop_groups
from ops.stack import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")

# A parent forking one child from its main thread and one from another thread: Linux lists a child under the
# thread that forked it, so a walk reading only the main thread's list would miss the second.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, threading, time
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    first = subprocess.Popen(sleeper)
    second = []
    thread = threading.Thread(target=lambda: second.append(subprocess.Popen(sleeper)) or time.sleep(60))
    thread.start()
    while not second:
        time.sleep(0.01)
    print(first.pid, second[0].pid, flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def tree() -> Iterator[subprocess.Popen[str]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, "nmc-tree-marker"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield parent
    finally:
        for pid in descendants(parent.pid)[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait(10)
        assert parent.stdout is not None
        parent.stdout.close()


def test_children_from_every_thread_and_the_whole_tree(tree: subprocess.Popen[str]) -> None:
    assert tree.stdout is not None
    first, second = (int(pid) for pid in tree.stdout.readline().split())

    assert sorted(children(tree.pid)) == sorted([first, second])
    found = descendants(tree.pid)
    assert found[0] == tree.pid
    assert sorted(found[1:]) == sorted([first, second])
    assert children(first) == []


def test_counters_and_command_line_of_a_live_process(tree: subprocess.Popen[str]) -> None:
    assert tree.stdout is not None
    tree.stdout.readline()

    fields = stat_fields(tree.pid)
    assert fields is not None
    assert fields[0] in {"R", "S", "D"}
    seconds = cpu_seconds(tree.pid)
    assert seconds is not None
    assert seconds >= 0
    assert rss_kb(tree.pid) > 1000  # a Python interpreter takes megabytes
    line = command_line(tree.pid)
    assert line is not None
    assert line.endswith("nmc-tree-marker")


def test_a_process_that_is_gone_reads_as_gone() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    time.sleep(0.05)

    assert stat_fields(gone.pid) is None
    assert cpu_seconds(gone.pid) is None
    assert rss_kb(gone.pid) == 0
    assert command_line(gone.pid) is None
    assert children(gone.pid) == []
    assert descendants(gone.pid) == [gone.pid]


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    named = subprocess.Popen(
        [sys.executable, "-c", "import ctypes, time; ctypes.CDLL(None).prctl(15, b'a) (b c', 0, 0, 0); time.sleep(30)"]
    )
    try:
        deadline = time.monotonic() + 5
        while "a) (b c" not in Path(f"/proc/{named.pid}/comm").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        fields = stat_fields(named.pid)
        assert fields is not None
        assert fields[0] in {"R", "S"}
        assert int(fields[1]) > 0  # the parent's pid, right after the state
    finally:
        named.kill()
        named.wait(10)


def test_stop_groups_kills_and_reaps_a_group_that_ignores_sigterm_and_skips_one_already_gone() -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    gone.wait(10)
    assert stubborn.stdout is not None
    assert stubborn.stdout.readline() == b"1\n"  # its SIGTERM handler is set
    started = time.monotonic()
    stop_groups([gone, stubborn], grace_seconds=0.5)
    # Reaped, not just signalled: a Popen still unreaped here would warn (and fail the suite) when collected.
    assert stubborn.returncode == -signal.SIGKILL
    assert gone.returncode == 0
    assert time.monotonic() - started < 10
    stubborn.stdout.close()
