"""The scheduler remembers: a job runs once per period across schedulers started together, restarts and crashes.

Each run of the job writes a marker row in its own transaction, so the count of committed markers is the count of
runs that really happened, whatever the schedulers believed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.waiting import wait_until
from workers.scheduler import ALREADY_RAN, RUNNING_ELSEWHERE, Job, Scheduler

ROOT = Path(__file__).resolve().parents[2]
DAY = 24 * 3600
NOON = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


def mark_run(session: Session, now: datetime) -> str:
    session.execute(
        text("INSERT INTO processed_events (event_id, handler) VALUES (:id, :handler)"),
        {"id": uuid.uuid4(), "handler": f"job-run:{now.date().isoformat()}"},
    )
    return "marked"


def runs_on(sessions: sessionmaker[Session], day: datetime) -> int:
    with sessions() as session:
        query = text("SELECT count(*) FROM processed_events WHERE handler = :h")
        return int(session.execute(query, {"h": f"job-run:{day.date().isoformat()}"}).scalar_one())


def slow_marking_job() -> Job:
    def slow(session: Session, now: datetime) -> str:
        session.execute(text("SELECT pg_sleep(0.3)"))
        return mark_run(session, now)

    return Job("retention", DAY, slow)


def test_schedulers_started_at_once_run_a_daily_job_exactly_once(sessions: sessionmaker[Session]) -> None:
    count = 8
    barrier = threading.Barrier(count)
    outcomes: list[object] = []

    def one_scheduler() -> None:
        job = slow_marking_job()
        scheduler = Scheduler(sessions, [job], clock=lambda: NOON)
        barrier.wait()
        outcome = scheduler.run_job(job)
        while outcome == RUNNING_ELSEWHERE:  # another one holds it: look again, as the run loop does
            outcome = scheduler.run_job(job)
        outcomes.append(outcome)

    threads = [threading.Thread(target=one_scheduler) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(str, outcomes)) == ["marked"] + [ALREADY_RAN] * (count - 1)
    assert runs_on(sessions, NOON) == 1


def test_a_restarted_scheduler_waits_for_the_next_period(sessions: sessionmaker[Session]) -> None:
    job = Job("reconcile_with_provider", DAY, mark_run)
    assert Scheduler(sessions, [job], clock=lambda: NOON).run_job(job) == "marked"
    later_that_day = NOON + timedelta(hours=11, minutes=59)
    restarted = Job("reconcile_with_provider", DAY, mark_run)
    assert Scheduler(sessions, [restarted], clock=lambda: later_that_day).run_job(restarted) == ALREADY_RAN
    next_day = NOON + timedelta(hours=12)
    assert Scheduler(sessions, [restarted], clock=lambda: next_day).run_job(restarted) == "marked"
    assert (runs_on(sessions, NOON), runs_on(sessions, next_day)) == (1, 1)
    with sessions() as session:
        row = session.execute(text("SELECT runs, last_result, period_start FROM scheduler_runs")).one()
    assert (row.runs, row.last_result, row.period_start) == (2, "marked", datetime(2025, 3, 5, tzinfo=UTC))


def test_a_failed_run_gives_its_period_back(sessions: sessionmaker[Session]) -> None:
    attempts: list[datetime] = []

    def fails_once(session: Session, now: datetime) -> str:
        mark_run(session, now)
        attempts.append(now)
        if len(attempts) == 1:
            raise RuntimeError("provider down")
        return "marked"

    job = Job("retention", DAY, fails_once)
    scheduler = Scheduler(sessions, [job], clock=lambda: NOON)
    assert scheduler.run_job(job) == "error: provider down"
    assert runs_on(sessions, NOON) == 0  # the marker rolled back with the claim
    assert scheduler.run_job(job) == "marked"
    assert scheduler.run_job(job) == ALREADY_RAN
    assert runs_on(sessions, NOON) == 1


CRASHING_SCHEDULER = """
import sys, time
from datetime import UTC, datetime
from sqlalchemy import text
from db.engine import make_engine, make_session_factory
from tests.support.services import base_settings
from workers.scheduler import Job, Scheduler

def hang(session, now):
    session.execute(text(
        "INSERT INTO processed_events (event_id, handler) VALUES (gen_random_uuid(), 'job-run:2025-03-04')"
    ))
    print("running", flush=True)
    time.sleep(600)

sessions = make_session_factory(make_engine(base_settings(database_url=sys.argv[1])))
job = Job("retention", 24 * 3600, hang)
Scheduler(sessions, [job], clock=lambda: datetime(2025, 3, 4, 12, tzinfo=UTC)).run_job(job)
"""


def test_a_scheduler_killed_mid_run_leaves_the_period_to_the_next_one(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    crashing = subprocess.Popen(
        [sys.executable, "-c", CRASHING_SCHEDULER, database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert crashing.stdout is not None
        assert crashing.stdout.readline().strip() == "running"
        job = Job("retention", DAY, mark_run)
        survivor = Scheduler(sessions, [job], clock=lambda: NOON)
        assert survivor.run_job(job) == RUNNING_ELSEWHERE
        crashing.kill()
        crashing.wait(timeout=10)
        assert wait_until(lambda: survivor.run_job(job) != RUNNING_ELSEWHERE, what="the dead run's lock to go")
    finally:
        crashing.kill()
        crashing.wait(timeout=10)
        if crashing.stdout:
            crashing.stdout.close()
    assert runs_on(sessions, NOON) == 1  # the killed run's marker rolled back; the survivor's is the one


def test_run_loops_of_several_schedulers_share_one_run_per_period(sessions: sessionmaker[Session]) -> None:
    schedulers = [Scheduler(sessions, [Job("retention", DAY, mark_run)]) for _ in range(3)]
    threads = [threading.Thread(target=scheduler.run) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: runs_on(sessions, datetime.now(UTC)) >= 1, what="the daily job's first run")
        threading.Event().wait(1.5)  # every loop has looked at least once more
    finally:
        for scheduler in schedulers:
            scheduler.stopping.set()
        for thread in threads:
            thread.join(timeout=10)
    assert runs_on(sessions, datetime.now(UTC)) == 1


def test_a_long_job_does_not_hold_up_the_one_second_job(sessions: sessionmaker[Session]) -> None:
    # The one-second job is the one that sends held first texts: a retention run or a provider call waiting out its
    # timeout must not delay it (one loop for every job did, for as long as the slow job ran).
    slow_started, release = threading.Event(), threading.Event()
    quick_runs: list[float] = []

    def slow(session: Session, now: datetime) -> str:
        slow_started.set()
        release.wait(20)
        return "done"

    def quick(session: Session, now: datetime) -> str:
        quick_runs.append(time.monotonic())
        return "ran"

    scheduler = Scheduler(sessions, [Job("retention", DAY, slow), Job("end_first_response_graces", 1, quick)])
    loop = threading.Thread(target=scheduler.run)
    loop.start()
    try:
        assert slow_started.wait(10)
        began = time.monotonic()
        wait_until(lambda: sum(at > began for at in quick_runs) >= 3, 10, "three runs of the quick job")
    finally:
        release.set()
        scheduler.stopping.set()
        loop.join(timeout=15)
    assert not loop.is_alive()
