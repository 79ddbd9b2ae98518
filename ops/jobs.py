"""The scheduler's periodic jobs, gathered from the modules that own them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings
from domain.compliance import registration
from domain.conversations import maintenance
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from workers.scheduler import Job, Scheduler


def scheduled_jobs(settings: Settings, sessions: sessionmaker[Session]) -> list[Job]:
    from db.metrics import refresh_pipeline_gauges
    from db.retention import run_retention
    from domain.composition import lifecycle
    from domain.scheduling.sync import resync_stale_calendars
    from workers.adapters.a2p_registry import TwilioCampaignRegistry
    from workers.adapters.calendars import build_calendar_clients
    from workers.adapters.gated_sms import GatedSmsSender
    from workers.adapters.twilio_gateway import TwilioGateway

    gateway = TwilioGateway(settings)
    sms = GatedSmsSender(gateway, settings)
    campaigns = TwilioCampaignRegistry(gateway)
    silent_after = timedelta(seconds=settings.status_poll_after_seconds)

    calendars = build_calendar_clients(settings)

    def resync_calendars(session: Session, now: datetime) -> tuple[int, int]:
        return resync_stale_calendars(
            session,
            source=calendars,
            now=now,
            max_age_seconds=settings.calendar_mirror_max_age_seconds,
            events=RootSink(session),
        )

    def reconcile(session: Session, now: datetime) -> int:
        return maintenance.reconcile_with_provider(session, now, sms=sms, since=timedelta(days=1))

    def poll_statuses(session: Session, now: datetime) -> int:
        return maintenance.poll_silent_messages(session, now, sms=sms, silent_after=silent_after)

    def poll_campaigns(session: Session, now: datetime) -> int:
        return registration.poll_pending_campaigns(session, now, registry=campaigns)

    jobs = [
        Job("expire_holds", 15, lambda session, now: scheduling.expire_holds(session, now, events=RootSink(session))),
        Job("expire_human_leases", 15, maintenance.expire_human_leases),
        # A held first SMS waits at most its grace plus this period (and the dispatch) before it is decided.
        Job("end_first_response_graces", 1, maintenance.end_due_graces),
        Job("poll_message_statuses", 30, poll_statuses),
        Job("reconcile_with_provider", 24 * 3600, reconcile),
        Job("poll_campaign_statuses", settings.campaign_poll_interval_seconds, poll_campaigns),
        Job("resync_stale_calendars", 60, resync_calendars),
        # Reminders and follow-ups in short batches of their own (each claim commits with its messages).
        Job(
            "send_due_reminders",
            settings.reminder_poll_seconds,
            lambda _s, now: lifecycle.run_in_batches(sessions, lifecycle.send_due_reminders, now=now),
        ),
        Job(
            "release_deferred_messages",
            settings.reminder_poll_seconds,
            lambda _s, now: lifecycle.run_in_batches(sessions, lifecycle.release_deferred, now=now),
        ),
        Job("send_follow_ups", 60, lambda session, now: lifecycle.send_follow_ups(session, now=now)),
        Job("refresh_pipeline_gauges", 5, lambda session, now: refresh_pipeline_gauges(session, now)),
        # Retention works in its own small batches (short transactions), so it takes the session factory.
        Job("retention", 24 * 3600, lambda session, now: run_retention(sessions, now=now)),
    ]
    return jobs


def build_scheduler(settings: Settings) -> Scheduler:
    # Every job runs on a thread of its own, so as many may hold a connection at once, and the jobs that work in
    # batches of their own (reminders, retention) a second one: two are kept, any more closed when given back.
    engine = make_engine(settings, pool_size=2, max_overflow=30, application_name="nmc-scheduler")
    sessions = make_session_factory(engine)
    return Scheduler(sessions, scheduled_jobs(settings, sessions))
