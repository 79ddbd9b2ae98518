"""The scheduler for periodic work (hold expiry, lease expiry, provider polling, gauges, retention).

Each job runs in its own transaction under a transaction-scoped advisory lock, so any number of schedulers can
run and a job never runs twice at once; a failing job is logged and retried at its next tick.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from domain.events.envelope import utcnow

logger = logging.getLogger("nmc.scheduler")

JobFunc = Callable[[Session, datetime], object]


@dataclass
class Job:
    name: str
    every_seconds: float
    func: JobFunc
    next_run: float = field(default=0.0)

    @property
    def lock_key(self) -> int:
        return zlib.crc32(f"nmc.job.{self.name}".encode())


class Scheduler:
    def __init__(self, sessions: sessionmaker[Session], jobs: Iterable[Job], *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self.jobs = list(jobs)
        self._clock = clock
        self.stopping = threading.Event()

    def run_due(self) -> dict[str, object]:
        results: dict[str, object] = {}
        for job in self.jobs:
            if time.monotonic() < job.next_run:
                continue
            job.next_run = time.monotonic() + job.every_seconds
            results[job.name] = self.run_job(job)
        return results

    def run_job(self, job: Job) -> object:
        try:
            with self._sessions() as session, session.begin():
                locked = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": job.lock_key}).scalar()
                if not locked:
                    return "skipped: running elsewhere"
                return job.func(session, self._clock())
        except Exception as error:
            logger.exception("job %s failed: %s", job.name, error)
            return f"error: {error}"

    def run(self, *, on_tick: Callable[[], None] | None = None) -> None:
        logger.info("scheduler started with jobs %s", [job.name for job in self.jobs])
        while not self.stopping.is_set():
            self.run_due()
            if on_tick:
                on_tick()
            soonest = min((job.next_run for job in self.jobs), default=time.monotonic() + 1)
            self.stopping.wait(max(0.05, min(1.0, soonest - time.monotonic())))
        logger.info("scheduler stopped")
