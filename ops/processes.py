"""Processes as Linux's /proc shows them: the one place that walks a process tree or reads a process's counters.

Every reader tolerates a process that is gone (or becomes a zombie) while it is read: a tree walked during a chaos
run or a benchmark changes under the walk.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None once the process is gone.

    The command name may contain spaces and parentheses: it ends at the last ')'."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """The pids a process has forked (a gunicorn or Dramatiq pool's workers), from any of its threads."""
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """The process and every live descendant (gunicorn workers, Dramatiq worker processes), parents first."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop(0)
        found.append(current)
        pending.extend(children(current))
    return found


def command_line(pid: int) -> str | None:
    """The process's arguments joined by spaces, or None once it is gone."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one live process (all its threads), or None when it is gone or unreadable."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kb(pid: int) -> int:
    """The process's resident set size in KiB (0 once it is gone)."""
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def stop_groups(processes: Iterable[subprocess.Popen[Any]], grace_seconds: float = 20.0) -> None:
    """SIGTERM each live process's group, give them all one shared grace period, then SIGKILL and reap stragglers.

    Every process is waited for before this returns: a Popen left unreaped is a zombie (and, under pytest's
    ``filterwarnings = error``, a ResourceWarning that fails whichever test is running when it is collected)."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(10)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pid, sig)
