"""The scheduler for periodic work (hold expiry, lease expiry, provider polling, gauges, retention).

Time is cut into periods of each job's interval, aligned on the epoch (a daily job's period is the UTC day). A job
runs at most once per period across every scheduler and every restart: in the job's own transaction the scheduler
claims the period by advancing the job's row in ``scheduler_runs`` (``INSERT … ON CONFLICT … WHERE period_start <
excluded.period_start``), so Postgres decides who runs. A job that fails, or whose process dies, rolls its claim back
with its work and is tried again; one that commits is never run again in that period. A transaction-scoped advisory
lock taken first keeps a second scheduler from queueing behind a long job (it looks again a few seconds later).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from domain.events.envelope import utcnow

logger = logging.getLogger("nmc.scheduler")

JobFunc = Callable[[Session, datetime], object]

# How soon a scheduler looks again at a job another scheduler is running, and at one that failed.
BUSY_RETRY_SECONDS = 5.0
FAILED_RETRY_SECONDS = 60.0
# The shortest pause between two looks at one job, and how long a stopping scheduler waits for running jobs.
MIN_WAIT_SECONDS = 0.05
STOP_GRACE_SECONDS = 10.0

CLAIM_PERIOD = text(
    "INSERT INTO scheduler_runs (job, period_start, started_at) VALUES (:job, :period, :now) "
    "ON CONFLICT (job) DO UPDATE SET period_start = excluded.period_start, started_at = excluded.started_at, "
    "runs = scheduler_runs.runs + 1, last_result = NULL "
    "WHERE scheduler_runs.period_start < excluded.period_start "
    "RETURNING runs"
)
RECORD_RESULT = text("UPDATE scheduler_runs SET last_result = :result WHERE job = :job")
TRY_JOB_LOCK = text("SELECT pg_try_advisory_xact_lock(:k)")

ALREADY_RAN = "skipped: already ran this period"
RUNNING_ELSEWHERE = "skipped: running elsewhere"


@dataclass
class Job:
    name: str
    every_seconds: float
    func: JobFunc

    @property
    def lock_key(self) -> int:
        return zlib.crc32(f"nmc.job.{self.name}".encode())

    def period_start(self, now: datetime) -> datetime:
        epoch = now.timestamp()
        return datetime.fromtimestamp(epoch - epoch % self.every_seconds, tz=UTC)

    def seconds_left_in_period(self, now: datetime) -> float:
        end = self.period_start(now) + timedelta(seconds=self.every_seconds)
        return max(0.0, (end - now).total_seconds())


class Scheduler:
    def __init__(self, sessions: sessionmaker[Session], jobs: Iterable[Job], *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self.jobs = list(jobs)
        self._clock = clock
        self.stopping = threading.Event()

    def run_job(self, job: Job) -> object:
        """Run ``job`` now unless its current period was already claimed; returns its result or why it did not run."""
        return self._attempt(job)[0]

    def _attempt(self, job: Job) -> tuple[object, float]:
        now = self._clock()
        try:
            with self._sessions() as session, session.begin():
                if not session.execute(TRY_JOB_LOCK, {"k": job.lock_key}).scalar():
                    return RUNNING_ELSEWHERE, min(job.every_seconds, BUSY_RETRY_SECONDS)
                claimed = session.execute(
                    CLAIM_PERIOD, {"job": job.name, "period": job.period_start(now), "now": now}
                ).first()
                if claimed is None:
                    return ALREADY_RAN, job.seconds_left_in_period(now)
                result = job.func(session, now)
                session.execute(RECORD_RESULT, {"job": job.name, "result": str(result)[:500]})
        except Exception as error:
            logger.exception("job %s failed: %s", job.name, error)
            return f"error: {error}", min(job.every_seconds, FAILED_RETRY_SECONDS)
        return result, job.seconds_left_in_period(now)

    def run(self, *, on_tick: Callable[[], None] | None = None) -> None:
        """Each job on a thread of its own until ``stopping`` is set; ``on_tick`` (the heartbeat) about every second.

        One loop for every job let the slowest hold up the rest: a retention run over a large table, or a provider
        call waiting out its timeout, kept the one-second job that sends held first texts from running, and so
        delayed a caller's first SMS by as long. The period claim already makes each job's runs independent of the
        others', so nothing is shared between the threads but the connection pool.
        """
        logger.info("scheduler started with jobs %s", [job.name for job in self.jobs])
        lanes = [
            threading.Thread(target=self._run_lane, args=(job,), name=f"job-{job.name}", daemon=True)
            for job in self.jobs
        ]
        for lane in lanes:
            lane.start()
        try:
            while not self.stopping.is_set():
                if on_tick:
                    on_tick()
                self.stopping.wait(1.0)
        finally:
            self.stopping.set()
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for lane in lanes:
                # A job still running past the grace is abandoned: its transaction, claim included, rolls back
                # when the process exits, and the period is run again by whoever claims it next.
                lane.join(max(0.0, deadline - time.monotonic()))
        logger.info("scheduler stopped")

    def _run_lane(self, job: Job) -> None:
        while not self.stopping.is_set():
            _result, look_again_in = self._attempt(job)
            self.stopping.wait(max(MIN_WAIT_SECONDS, look_again_in))
