"""External busy sync against local servers speaking Google's and Jobber's wire formats, and the two webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import falcon.testing
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import OutboxEvent, WebhookEvent
from db.settings import Settings
from domain.events.catalog import CalendarChangeNotified
from domain.events.envelope import Envelope
from domain.events.handling import HandlerContext
from domain.events.sink import RootSink
from domain.scheduling import service
from domain.scheduling.availability import Shift
from domain.scheduling.errors import CalendarUnavailable
from domain.scheduling.handlers import resync_calendar
from domain.scheduling.models import ExternalBusy, ResourceCalendar
from domain.scheduling.records import SlotRequest
from domain.scheduling.sync import sync_calendar
from ingress.resources.calendar import jobber_signature_of, register_calendar_webhooks
from tests.support.calendar_servers import GoogleCalendarServer, JobberServer, serve
from workers.adapters.calendars import CalendarClients, CalendarRateLimited, build_calendar_clients

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
NOW = datetime(2030, 1, 7, 7, 0, tzinfo=ZONE).astimezone(UTC)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def google() -> Iterator[GoogleCalendarServer]:
    with serve(GoogleCalendarServer()) as server:
        assert isinstance(server, GoogleCalendarServer)
        yield server


@pytest.fixture
def jobber() -> Iterator[JobberServer]:
    with serve(JobberServer()) as server:
        assert isinstance(server, JobberServer)
        yield server


@pytest.fixture
def clients(settings: Settings, google: GoogleCalendarServer, jobber: JobberServer) -> CalendarClients:
    configured = settings.model_copy(
        update={
            "google_calendar_api_base_url": google.url,
            "google_calendar_access_token": SecretStr(google.token),
            "jobber_api_base_url": jobber.url,
            "jobber_access_token": SecretStr(jobber.token),
            "calendar_sync_window_days": 14,
        }
    )
    return build_calendar_clients(configured, max_retries=2, max_wait_seconds=0.01, sleep=lambda _s: None)


@pytest.fixture
def resource(sessions: sessionmaker[Session]) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id = uuid.uuid4()
    with sessions() as session, session.begin():
        made = service.create_resource(session, tenant_id=tenant_id, name="Mike", timezone=TZ, min_lead_minutes=0)
        service.set_working_hours(
            session,
            tenant_id=tenant_id,
            resource_id=made.id,
            shifts=[Shift(day, time(8), time(17)) for day in range(5)],
        )
    return tenant_id, made.id


def add_calendar(sessions: sessionmaker[Session], tenant_id: uuid.UUID, resource_id: uuid.UUID, **kw: Any) -> uuid.UUID:
    with sessions() as session, session.begin():
        return service.add_calendar(session, tenant_id=tenant_id, resource_id=resource_id, **kw).id


def shadow(session: Session, calendar_id: uuid.UUID) -> list[tuple[datetime, datetime, bool]]:
    rows = session.execute(
        select(ExternalBusy.timeslot, ExternalBusy.all_day).where(ExternalBusy.calendar_id == calendar_id)
    )
    return sorted((row[0].lower, row[0].upper, row[1]) for row in rows)


def outbox_names(session: Session, name: str) -> list[dict[str, Any]]:
    return [
        row[0]
        for row in session.execute(
            select(OutboxEvent.payload).where(OutboxEvent.event_name == name).order_by(OutboxEvent.seq)
        )
    ]


def test_google_free_busy_sync_is_idempotent_and_replaces_its_window(
    sessions: sessionmaker[Session], clients: CalendarClients, google: GoogleCalendarServer, resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="google", external_ref="mike@example.com")
    all_day = (
        datetime(2030, 1, 9, tzinfo=ZONE).astimezone(UTC),
        datetime(2030, 1, 10, tzinfo=ZONE).astimezone(UTC),
    )
    google.busy["mike@example.com"] = [(local(8, 10), local(8, 11)), all_day]
    for _ in range(2):
        with sessions() as session, session.begin():
            sync_calendar(
                session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
            )
    with sessions() as session:
        assert shadow(session, calendar_id) == [(local(8, 10), local(8, 11), False), (*all_day, True)]
        assert len(outbox_names(session, "nmc.scheduling.ExternalBusyChanged")) == 1  # the second sync changed nothing
        offered = {
            s.starts_at
            for s in service.find_slots(
                session,
                service.SlotSearch(
                    service_item_id=None,
                    duration_minutes=60,
                    window_start=local(8, 0),
                    window_end=local(10, 0),
                    limit=None,
                ),
                tenant_id=tenant_id,
                now=NOW,
            )
        }
    assert local(8, 10) not in offered
    assert local(8, 11) in offered
    assert not [s for s in offered if s.astimezone(ZONE).day == 9]  # the all-day event blocks the whole day
    request = google.requests[-1]
    assert request["path"] == "/calendar/v3/freeBusy"
    assert request["body"]["items"] == [{"id": "mike@example.com"}]
    assert request["headers"]["Authorization"] == f"Bearer {google.token}"

    google.busy["mike@example.com"] = []
    with sessions() as session, session.begin():
        sync_calendar(
            session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
        )
    with sessions() as session:
        assert shadow(session, calendar_id) == []
        assert outbox_names(session, "nmc.scheduling.ExternalBusyChanged")[-1]["busy_blocks"] == 0


def test_google_rate_limits_are_retried_then_reported(
    sessions: sessionmaker[Session], clients: CalendarClients, google: GoogleCalendarServer, resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="google", external_ref="cal-1")
    google.busy["cal-1"] = [(local(8, 9), local(8, 10))]
    google.fail_next(429, retry_after="1")
    google.fail_next(403, reason="rateLimitExceeded")
    with sessions() as session, session.begin():
        sync_calendar(
            session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
        )
        assert len(shadow(session, calendar_id)) == 1

    for _ in range(3):
        google.fail_next(429)
    with sessions() as session, session.begin(), pytest.raises(CalendarRateLimited):
        sync_calendar(
            session,
            tenant_id=tenant_id,
            calendar_id=calendar_id,
            source=clients,
            now=NOW + timedelta(hours=1),
            events=RootSink(session),
        )
    google.fail_next(500)
    with sessions() as session, session.begin(), pytest.raises(CalendarUnavailable, match="google 500"):
        sync_calendar(
            session,
            tenant_id=tenant_id,
            calendar_id=calendar_id,
            source=clients,
            now=NOW + timedelta(hours=1),
            events=RootSink(session),
        )
    with sessions() as session:
        calendar = session.get(ResourceCalendar, calendar_id)
        assert calendar is not None
        assert calendar.last_synced_at == NOW  # the failed sync left the last good mirror in place
        assert "500" in (calendar.last_sync_error or "")
        assert len(shadow(session, calendar_id)) == 1


def test_rate_limited_calls_wait_what_the_provider_asked_for_within_the_cap(
    settings: Settings, google: GoogleCalendarServer, jobber: JobberServer
) -> None:
    waits: list[float] = []
    configured = settings.model_copy(
        update={
            "google_calendar_api_base_url": google.url,
            "google_calendar_access_token": SecretStr(google.token),
            "jobber_api_base_url": jobber.url,
            "jobber_access_token": SecretStr(jobber.token),
        }
    )
    clients = build_calendar_clients(configured, max_retries=3, max_wait_seconds=10.0, sleep=waits.append)
    google.busy["cal-1"] = []
    google.fail_next(429, retry_after="3")  # Retry-After in seconds
    google.fail_next(403, reason="rateLimitExceeded")  # no Retry-After: exponential, 2 s then 4 s
    google.fail_next(429, retry_after="120")  # more than the cap
    assert clients.google.free_busy("cal-1", NOW, NOW + timedelta(days=1), TZ) == []
    assert waits == [3.0, 4.0, 10.0]

    waits.clear()
    for _ in range(4):
        google.fail_next(429, retry_after="0")
    with pytest.raises(CalendarRateLimited):
        clients.google.free_busy("cal-1", NOW, NOW + timedelta(days=1), TZ)
    assert waits == [0.0, 0.0, 0.0]  # three retries, then the fourth refusal is reported


def test_google_unknown_calendar_is_an_error(
    sessions: sessionmaker[Session], clients: CalendarClients, resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="google", external_ref="nobody")
    with sessions() as session, session.begin(), pytest.raises(CalendarUnavailable, match="notFound"):
        sync_calendar(
            session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
        )


def test_jobber_visits_paginate_throttle_and_all_day(
    sessions: sessionmaker[Session], clients: CalendarClients, jobber: JobberServer, resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="jobber", external_ref="acct-1/user-7")
    jobber.add_visit("v1", local(8, 9), local(8, 10), user_id="user-7")
    jobber.add_visit("v2", local(8, 13), local(8, 14), user_id="someone-else")
    jobber.add_visit("v3", local(9, 12), local(9, 12, 30), user_id="user-7", all_day=True)
    jobber.add_visit("v4", local(10, 15), local(10, 16), user_id="user-7")
    jobber.throttle_next()
    jobber.fail_next(429, retry_after="0")
    with sessions() as session, session.begin():
        sync_calendar(
            session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
        )
    with sessions() as session:
        assert shadow(session, calendar_id) == [
            (local(8, 9), local(8, 10), False),
            (
                datetime(2030, 1, 9, tzinfo=ZONE).astimezone(UTC),
                datetime(2030, 1, 10, tzinfo=ZONE).astimezone(UTC),
                True,
            ),
            (local(10, 15), local(10, 16), False),
        ]
    graphql = [r for r in jobber.requests if r["path"] == "/api/graphql"]
    assert all(r["headers"]["X-JOBBER-GRAPHQL-VERSION"] for r in graphql)
    assert len(graphql) == 4  # throttled, 429, then two pages
    for _ in range(3):
        jobber.throttle_next()
    with sessions() as session, session.begin(), pytest.raises(CalendarRateLimited):
        sync_calendar(
            session, tenant_id=tenant_id, calendar_id=calendar_id, source=clients, now=NOW, events=RootSink(session)
        )


def test_hold_refreshes_a_stale_mirror_first(
    sessions: sessionmaker[Session], clients: CalendarClients, google: GoogleCalendarServer, resource: Any
) -> None:
    tenant_id, resource_id = resource
    add_calendar(sessions, tenant_id, resource_id, provider="google", external_ref="cal-2")
    google.busy["cal-2"] = [(local(8, 10), local(8, 11))]
    from domain.scheduling.errors import SlotUnavailable

    with sessions() as session, session.begin(), pytest.raises(SlotUnavailable) as refused:
        service.place_hold(
            session,
            SlotRequest(
                resource_id=resource_id,
                service_item_id=uuid.uuid4(),
                starts_at=local(8, 10),
                ends_at=local(8, 11),
                customer_phone="+13105551212",
            ),
            tenant_id=tenant_id,
            now=NOW,
            ttl_minutes=15,
            calendars=clients,
            mirror_max_age_seconds=900,
            events=RootSink(session),
        )
    assert refused.value.reason == "external_busy"
    assert refused.value.alternatives
    # The provider being down does not stop a hold: the last good mirror is used.
    google.fail_next(500)
    with sessions() as session, session.begin():
        held = service.place_hold(
            session,
            SlotRequest(
                resource_id=resource_id, service_item_id=uuid.uuid4(), starts_at=local(8, 12), ends_at=local(8, 13)
            ),
            tenant_id=tenant_id,
            now=NOW + timedelta(hours=1),
            ttl_minutes=15,
            calendars=clients,
            mirror_max_age_seconds=60,
            events=RootSink(session),
        )
        assert held.status == "active"


def _envelope(event: object, tenant_id: uuid.UUID) -> Envelope:
    from domain.events.outbox import build_envelope

    return build_envelope(event, tenant_id=tenant_id)


def test_resync_handler_replaces_the_shadow(
    sessions: sessionmaker[Session], clients: CalendarClients, google: GoogleCalendarServer, resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="google", external_ref="cal-3")
    google.busy["cal-3"] = [(datetime.now(UTC) + timedelta(days=1), datetime.now(UTC) + timedelta(days=1, hours=1))]
    event = CalendarChangeNotified(provider="google", external_ref="cal-3", resource_calendar_id=calendar_id)
    with sessions() as session, session.begin():
        resync_calendar(event, HandlerContext(session, _envelope(event, tenant_id)), calendars=clients)
    with sessions() as session:
        assert len(shadow(session, calendar_id)) == 1


# --- webhooks --------------------------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, sessions: sessionmaker[Session]) -> falcon.testing.TestClient:
    app = falcon.App()

    class Deps:
        pass

    deps = Deps()
    deps.sessions = sessions  # type: ignore[attr-defined]
    register_calendar_webhooks(app, settings, deps)
    return falcon.testing.TestClient(app)


def test_google_push_notification_checked_by_channel_token(
    client: falcon.testing.TestClient, sessions: sessionmaker[Session], resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(
        sessions,
        tenant_id,
        resource_id,
        provider="google",
        external_ref="cal-4",
        channel_id="chan-1",
        channel_token="s3cret-token",
    )

    def notify(token: str, number: str, state: str = "exists") -> falcon.testing.Result:
        return client.simulate_post(
            "/webhooks/google/calendar",
            headers={
                "X-Goog-Channel-ID": "chan-1",
                "X-Goog-Channel-Token": token,
                "X-Goog-Resource-ID": "res-1",
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": number,
            },
        )

    assert notify("wrong", "2").status_code == 403
    assert notify("s3cret-token", "1", state="sync").headers["X-Webhook-Outcome"] == "ignored"
    assert notify("s3cret-token", "2").headers["X-Webhook-Outcome"] == "accepted"
    assert notify("s3cret-token", "2").headers["X-Webhook-Outcome"] == "duplicate"
    with sessions() as session:
        notified = outbox_names(session, "nmc.scheduling.CalendarChangeNotified")
        assert notified == [{"provider": "google", "external_ref": "cal-4", "resource_calendar_id": str(calendar_id)}]
        tenants = session.scalars(select(OutboxEvent.tenant_id).where(OutboxEvent.event_name.like("%Calendar%")))
        assert list(tenants) == [tenant_id]


def test_jobber_webhook_is_hmac_signed(
    client: falcon.testing.TestClient, settings: Settings, sessions: sessionmaker[Session], resource: Any
) -> None:
    tenant_id, resource_id = resource
    calendar_id = add_calendar(sessions, tenant_id, resource_id, provider="jobber", external_ref="acct-9/user-1")
    body = json.dumps(
        {
            "data": {
                "webHookEvent": {
                    "topic": "VISIT_UPDATE",
                    "appId": "app",
                    "accountId": "acct-9",
                    "itemId": "visit-5",
                    "occurredAt": "2030-01-07T12:00:00Z",
                }
            }
        }
    ).encode()

    def post(raw: bytes, signature: str) -> falcon.testing.Result:
        return client.simulate_post(
            "/webhooks/jobber",
            body=raw,
            headers={"Content-Type": "application/json", "X-Jobber-Hmac-SHA256": signature},
        )

    good = jobber_signature_of(settings.jobber_webhook_secret.get_secret_value(), body)
    assert post(body, "bad").status_code == 403
    assert post(body + b" ", good).status_code == 403
    assert post(body, good).headers["X-Webhook-Outcome"] == "accepted"
    assert post(body, good).headers["X-Webhook-Outcome"] == "duplicate"
    stranger = body.replace(b"acct-9", b"acct-0")
    assert (
        post(stranger, jobber_signature_of(settings.jobber_webhook_secret.get_secret_value(), stranger)).headers[
            "X-Webhook-Outcome"
        ]
        == "unroutable"
    )
    with sessions() as session:
        assert outbox_names(session, "nmc.scheduling.CalendarChangeNotified") == [
            {"provider": "jobber", "external_ref": "acct-9/user-1", "resource_calendar_id": str(calendar_id)}
        ]
        assert session.scalar(select(WebhookEvent.tenant_id).where(WebhookEvent.outcome == "unroutable")) is None
