"""The scheduler's periodic jobs, gathered from the modules that own them."""

from __future__ import annotations

from db.engine import make_engine, make_session_factory
from db.settings import Settings
from workers.scheduler import Job, Scheduler


def scheduled_jobs(settings: Settings) -> list[Job]:
    jobs: list[Job] = []
    return jobs


def build_scheduler(settings: Settings) -> Scheduler:
    engine = make_engine(settings, pool_size=2, max_overflow=2, application_name="nmc-scheduler")
    return Scheduler(make_session_factory(engine), scheduled_jobs(settings))
