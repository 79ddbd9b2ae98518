"""`nmc up`'s supervision with real crashing children: the backoff doubles while a child keeps crashing soon after
it starts, and starts over once a run lasted long enough to count as healthy."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ops.supervision import Backoff, Child, Supervisor
from tests.support.waiting import wait_until

BACKOFF = Backoff(first_seconds=0.05, max_seconds=0.4, healthy_after_seconds=1.0)

# Runs 1-3 crash at once, run 4 lasts 1.5 s (healthy) and then crashes, every later run crashes at once again.
MOSTLY_CRASHING = """
n=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 )); echo $n > "$1"
if [ "$n" -eq 4 ]; then sleep 1.5; fi
exit 3
"""


def start(child: Child) -> None:
    child.process = subprocess.Popen(child.argv)
    child.started_at = time.monotonic()


def test_backoff_doubles_on_quick_crashes_and_resets_after_a_healthy_run(tmp_path: Path) -> None:
    said: list[str] = []
    flaky = Child("flaky", ["sh", "-c", MOSTLY_CRASHING, "sh", str(tmp_path / "runs")])
    broken = Child("broken", ["sh", "-c", "exit 1"])
    supervisor = Supervisor([flaky, broken], start, backoff=BACKOFF, say=said.append)
    for child in supervisor.children:
        start(child)
    try:

        def flaky_crashed_six_times() -> bool:
            supervisor.check()
            return len(flaky.delays) >= 6

        wait_until(flaky_crashed_six_times, timeout=30, what="six crashes of the flaky child")
    finally:
        for child in supervisor.children:
            assert child.process is not None
            child.process.kill()
            child.process.wait()
    assert flaky.delays[:6] == [0.05, 0.1, 0.2, 0.05, 0.1, 0.2]
    # The child that never starts properly climbs to the cap and stays there, without holding the other one back.
    assert len(broken.delays) > 6
    assert broken.delays[:6] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert set(broken.delays[6:]) == {0.4}
    healthy_exit = [line for line in said if line.startswith("flaky exited with 3 after 1.")]
    assert len(healthy_exit) == 1  # the 1.5 s run
    assert healthy_exit[0].endswith("; restarting in 0.05 s")


def test_the_default_backoff_is_a_second_doubling_to_thirty_and_a_minute_counts_as_healthy() -> None:
    backoff = Backoff()
    assert [backoff.delay(crashes) for crashes in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.healthy_after_seconds == 60
