"""How `nmc up` keeps its children running: a crashed child restarts after a backoff that doubles while it keeps
crashing soon after each start, and starts again from the first step once a run has lasted long enough to count as
healthy (a child that ran for an hour and then fell over is not treated like one that cannot start).

Children are checked without blocking: one child waiting out its delay never holds back another's restart.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    first_seconds: float = 1.0
    max_seconds: float = 30.0
    # A run at least this long resets the doubling.
    healthy_after_seconds: float = 60.0

    def delay(self, quick_crashes: int) -> float:
        return min(self.max_seconds, self.first_seconds * 2 ** max(0, quick_crashes - 1))


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)
    # Crashes in a row, each within healthy_after_seconds of its start.
    quick_crashes: int = 0
    restart_at: float | None = None
    delays: list[float] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        children: Iterable[Child],
        start: Callable[[Child], None],
        *,
        backoff: Backoff | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = list(children)
        self._start = start
        self.backoff = backoff or Backoff()
        self._say = say
        self._clock = clock

    def check(self) -> None:
        """Restart every child whose delay is over, and schedule the restart of every child that has exited."""
        now = self._clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            ran = now - child.started_at
            healthy = ran >= self.backoff.healthy_after_seconds
            child.quick_crashes = 1 if healthy else child.quick_crashes + 1
            delay = self.backoff.delay(child.quick_crashes)
            child.restarts += 1
            child.delays.append(delay)
            child.restart_at = now + delay
            self._say(
                f"{child.name} exited with {child.process.returncode} after {ran:.1f} s; restarting in {delay:g} s"
            )
