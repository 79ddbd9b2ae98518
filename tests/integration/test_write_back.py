"""Bookings written back to the technician's Google Calendar and Jobber, through the real handlers, Postgres and
local servers speaking the providers' write APIs: inserted once however often the handler runs, patched on a
reschedule, deleted on a cancel; a slot taken there opens an operator task and tells the caller nothing; 429 (with
Retry-After) and 5xx are retried; refused credentials are a task, not a crash."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.credentials import CredentialBox, link_calendar
from domain.scheduling.records import Reschedule, SlotRequest
from domain.scheduling.write_back import google_event_id
from ops.tenants import seed_demo
from tests.support.calendar_servers import GoogleCalendarServer, JobberServer, serve
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.calendar_writes import build_calendar_writers
from workers.bootstrap import build_dispatcher, build_worker_runtime
from workers.delivery import DeliveryRunner
from workers.dispatcher import Dispatcher

CALENDAR = "sarah@acme.example"
GOOD_TOKEN = GoogleCalendarServer.token  # what the local servers accept
JOBBER_REF = "acct-1/user-7"
START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)


@dataclass
class Env:
    settings: Settings
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    runner: DeliveryRunner
    tenant_id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    google: GoogleCalendarServer
    jobber: JobberServer
    slept: list[float]

    def drain(self) -> list[str]:
        return drain(self.dispatcher, self.runner, self.sessions)

    def link(self, provider: str, *, token: str = GOOD_TOKEN) -> uuid.UUID:
        with transaction(self.sessions) as session:
            return link_calendar(
                session,
                tenant_id=self.tenant_id,
                resource_id=self.resource_id,
                provider=provider,
                external_ref=CALENDAR if provider == "google" else JOBBER_REF,
                access_token=token,
                jobber_job_id="Z2lkOi8vSm9iYmVyL0pvYi8x" if provider == "jobber" else None,
                box=CredentialBox(self.settings.credentials_key),
            ).calendar_id

    def book(self, starts_at: datetime = START) -> uuid.UUID:
        with transaction(self.sessions) as session:
            return scheduling.book_slot(
                session,
                SlotRequest(
                    self.resource_id, self.service_item_id, starts_at, starts_at + timedelta(hours=1), "+16175550123"
                ),
                tenant_id=self.tenant_id,
                price_cents=14900,
                currency="USD",
                now=datetime.now(UTC),
                events=RootSink(session),
                enforce_hours=False,
            ).id

    def reschedule(self, appointment_id: uuid.UUID, starts_at: datetime) -> None:
        with transaction(self.sessions) as session:
            scheduling.reschedule_appointment(
                session, Reschedule(appointment_id, starts_at), tenant_id=self.tenant_id, now=datetime.now(UTC),
                events=RootSink(session), enforce_hours=False,
            )  # fmt: skip

    def cancel(self, appointment_id: uuid.UUID) -> None:
        with transaction(self.sessions) as session:
            scheduling.cancel_appointment(
                session, tenant_id=self.tenant_id, appointment_id=appointment_id, reason="caller",
                now=datetime.now(UTC), events=RootSink(session),
            )  # fmt: skip

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(text(query), params).all())

    def tasks(self) -> list[tuple[str, str]]:
        return [
            (row.kind, row.note) for row in self.rows("SELECT kind, note FROM conv_operator_tasks ORDER BY created_at")
        ]

    def writes(self, server: GoogleCalendarServer | JobberServer) -> list[str]:
        """The write calls the provider received (not the reads)."""
        if isinstance(server, GoogleCalendarServer):
            return [f"{r['method']} {r['path'].split('?')[0]}" for r in server.requests if r["method"] != "GET"]
        return [name for r in server.requests for name in ("visitCreate", "visitEditSchedule", "visitDelete")
                if f"{name}(" in r["body"].get("query", "")]  # fmt: skip


@pytest.fixture
def env(settings: Settings, world: World) -> Iterator[Env]:  # noqa: F811 - the fixture imported above
    with serve(GoogleCalendarServer()) as google, serve(JobberServer()) as jobber:
        assert isinstance(google, GoogleCalendarServer)
        assert isinstance(jobber, JobberServer)
        wired = settings.model_copy(
            update={
                "twilio_api_base_url": world.url,
                "public_base_url": world.ingress.base_url,
                "twilio_account_sid": world.settings.twilio_account_sid,
                "twilio_auth_token": world.settings.twilio_auth_token,
                "google_calendar_api_base_url": google.url,
                "jobber_api_base_url": jobber.url,
            }
        )
        slept: list[float] = []
        runtime, runner = build_worker_runtime(
            wired, dependencies={"calendar_writer": build_calendar_writers(wired, sleep=slept.append)}
        )
        with transaction(runtime.sessions) as session:
            tenant_id = uuid.UUID(seed_demo(session, wired)["id"])
            resource_id, service_item_id = session.execute(
                text("SELECT resource_id, service_item_id FROM sched_resource_services WHERE tenant_id = :t LIMIT 1"),
                {"t": tenant_id},
            ).one()
        yield Env(
            wired, runtime.sessions, build_dispatcher(runtime), runner, tenant_id, resource_id, service_item_id,
            google, jobber, slept,
        )  # fmt: skip
        runtime.broker.close()
        runtime.engine.dispose()


def test_a_booking_is_inserted_once_even_when_the_handler_runs_again(env: Env) -> None:
    calendar_id = env.link("google")
    appointment_id = env.book()
    env.drain()
    event = env.google.events[CALENDAR][google_event_id(appointment_id)]
    assert event["start"]["dateTime"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["extendedProperties"]["private"]["nmcAppointmentId"] == str(appointment_id)
    assert env.writes(env.google) == [f"POST /calendar/v3/calendars/{CALENDAR.replace('@', '%40')}/events"]
    # The same event redelivered (its processed marker lost, as after a crash before the commit): nothing new.
    with transaction(env.sessions) as session:
        session.execute(text("DELETE FROM processed_events WHERE handler = 'scheduling.write_back_booking'"))
        session.execute(
            text("UPDATE outbox_deliveries SET status = 'enqueued' WHERE handler = 'scheduling.write_back_booking'")
        )
    env.drain()
    assert len(env.writes(env.google)) == 1
    assert len(env.google.live_events(CALENDAR)) == 1
    (row,) = env.rows("SELECT state, external_id FROM sched_write_backs WHERE calendar_id = :c", c=calendar_id)
    assert tuple(row) == ("present", google_event_id(appointment_id))


def test_an_insert_that_reached_google_before_a_crash_is_adopted(env: Env) -> None:
    env.link("google")
    appointment_id = env.book()
    # As if an earlier attempt's insert went through and its transaction never committed.
    event_id = google_event_id(appointment_id)
    env.google.events[CALENDAR] = {event_id: {"id": event_id, "status": "confirmed",
        "start": {"dateTime": START.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "end": {"dateTime": (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}}}  # fmt: skip
    env.drain()
    assert env.writes(env.google) == []
    assert len(env.google.live_events(CALENDAR)) == 1


def test_a_reschedule_patches_and_a_cancel_deletes(env: Env) -> None:
    env.link("google")
    appointment_id = env.book()
    env.drain()
    later = START + timedelta(hours=3)
    env.reschedule(appointment_id, later)
    env.drain()
    event = env.google.events[CALENDAR][google_event_id(appointment_id)]
    assert event["start"]["dateTime"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    env.cancel(appointment_id)
    env.drain()
    assert env.google.live_events(CALENDAR) == []
    methods = [write.split()[0] for write in env.writes(env.google)]
    assert methods == ["POST", "PATCH", "DELETE"]
    names = [row.payload["action"] for row in env.rows(
        "SELECT payload FROM outbox_events WHERE event_name = 'nmc.scheduling.AppointmentWrittenBack' ORDER BY seq"
    )]  # fmt: skip
    assert names == ["inserted", "patched", "deleted"]


def test_moved_to_another_technician_the_event_leaves_one_calendar_for_the_other(env: Env) -> None:
    env.link("google")
    with transaction(env.sessions) as session:
        other = scheduling.create_resource(session, tenant_id=env.tenant_id, name="Van 2", timezone="UTC").id
        scheduling.set_resource_services(
            session, tenant_id=env.tenant_id, resource_id=other, service_item_ids={env.service_item_id}
        )
        link_calendar(
            session, tenant_id=env.tenant_id, resource_id=other, provider="google", external_ref="van2@acme.example",
            access_token=GOOD_TOKEN, box=CredentialBox(env.settings.credentials_key),
        )  # fmt: skip
    appointment_id = env.book()
    env.drain()
    with transaction(env.sessions) as session:
        scheduling.reschedule_appointment(
            session, Reschedule(appointment_id, START, resource_id=other), tenant_id=env.tenant_id,
            now=datetime.now(UTC), events=RootSink(session), enforce_hours=False,
        )  # fmt: skip
    env.drain()
    assert env.google.live_events(CALENDAR) == []
    (moved,) = env.google.live_events("van2@acme.example")
    assert moved["id"] == google_event_id(appointment_id)


def test_a_jobber_visit_created_before_a_lost_answer_is_found_not_made_again(env: Env) -> None:
    calendar_id = env.link("jobber")
    appointment_id = env.book()
    # An earlier attempt: its "about to create" committed, the visit made, the answer lost with the transaction.
    env.jobber.add_visit("Z2lkOi8vSm9iYmVyL1Zpc2l0/lost", START, START + timedelta(hours=1), user_id="user-7")
    with transaction(env.sessions) as session:
        session.execute(
            text(
                "INSERT INTO sched_write_backs (id, tenant_id, appointment_id, calendar_id, provider,"
                " create_attempted_at) VALUES (gen_random_uuid(), :t, :a, :c, 'jobber', now())"
            ),
            {"t": env.tenant_id, "a": appointment_id, "c": calendar_id},
        )
    env.drain()
    assert env.writes(env.jobber) == []
    (row,) = env.rows("SELECT state, external_id FROM sched_write_backs WHERE calendar_id = :c", c=calendar_id)
    assert tuple(row) == ("present", "Z2lkOi8vSm9iYmVyL1Zpc2l0/lost")


def test_jobber_gets_a_visit_moved_and_deleted_with_its_mutations(env: Env) -> None:
    env.link("jobber")
    appointment_id = env.book()
    env.drain()
    (visit,) = [visit for visit in env.jobber.visits if visit.get("title")]
    assert visit["assignedUsers"]["nodes"] == [{"id": "user-7"}]
    assert visit["startAt"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    env.drain()  # nothing pending: nothing more
    env.reschedule(appointment_id, START + timedelta(days=1))
    env.drain()
    assert visit["startAt"] == (START + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    env.cancel(appointment_id)
    env.drain()
    assert env.jobber.visits == []
    assert env.writes(env.jobber) == ["visitCreate", "visitEditSchedule", "visitDelete"]


def test_a_slot_taken_on_the_calendar_opens_a_task_and_tells_the_caller_nothing(env: Env) -> None:
    env.link("google")
    env.google.busy[CALENDAR] = [(START + timedelta(minutes=30), START + timedelta(hours=2))]
    appointment_id = env.book()
    env.drain()
    assert env.writes(env.google) == []  # nothing written over their event
    ((kind, note),) = env.tasks()
    assert kind == "calendar_conflict"
    assert "+16175550123" in note
    assert "busy" in note
    # The booking stands, so its confirmation (the lifecycle's, true) is all the caller gets: nothing of the conflict.
    sent = env.rows("SELECT purpose FROM conv_messages WHERE to_number = '+16175550123'")
    assert [row.purpose for row in sent] == ["confirmation"]
    (row,) = env.rows("SELECT status FROM sched_appointments WHERE id = :a", a=appointment_id)
    assert row.status == "booked"  # what the caller was told stays true here


def test_429_with_retry_after_and_5xx_are_retried(env: Env) -> None:
    env.link("google")
    env.google.fail_next(429, retry_after="2")
    env.google.fail_next(503)
    appointment_id = env.book()
    outcomes = env.drain()
    assert env.slept == [2.0]  # the wait Google asked for, in process
    assert "scheduling.write_back_booking:failed:CalendarUnavailable" in outcomes  # the 503: the delivery retries
    with transaction(env.sessions) as session:
        session.execute(
            text("UPDATE outbox_deliveries SET status = 'enqueued' WHERE handler = 'scheduling.write_back_booking'")
        )
    env.drain()
    assert google_event_id(appointment_id) in env.google.events[CALENDAR]
    env.jobber.fail_next(429, retry_after="1")
    env.jobber.throttle_next()
    env.link("jobber")
    env.reschedule(appointment_id, START + timedelta(hours=5))
    env.drain()
    assert env.slept[1:] == [1.0, pytest.approx(0.002, abs=0.01)]
    assert env.writes(env.jobber) == ["visitCreate"]


def test_refused_credentials_are_a_task_not_a_crash(env: Env) -> None:
    calendar_id = env.link("google", token="s3cret-token")  # not the token the server accepts
    env.book()
    outcomes = env.drain()
    assert "scheduling.write_back_booking:done" in outcomes
    ((kind, note),) = env.tasks()
    assert kind == "calendar_credentials"
    assert "Link the calendar again" in note
    (row,) = env.rows("SELECT status, problem FROM sched_calendar_credentials WHERE calendar_id = :c", c=calendar_id)
    assert row.status == "invalid"
    assert "401" in row.problem
    # Relinked, the next change is written.
    env.link("google")
    env.book(START + timedelta(days=1))
    env.drain()
    assert len(env.google.live_events(CALENDAR)) == 1


def test_tokens_are_encrypted_at_rest(env: Env) -> None:
    env.link("google", token="test-access-token")
    (row,) = env.rows("SELECT access_token FROM sched_calendar_credentials")
    assert b"test-access-token" not in bytes(row.access_token)
