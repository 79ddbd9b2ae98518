"""Bookings written back to the technician's Google Calendar and Jobber, through the real handlers, Postgres and
local servers speaking the providers' write APIs: inserted once however often the handler runs, patched on a
reschedule, deleted on a cancel; a slot taken there opens an operator task and tells the caller nothing; 429 (with
Retry-After) and 5xx are retried; refused credentials are a task, not a crash. Access tokens are renewed with the
refresh token (before they expire, and once after a 401), Jobber's rotated refresh token is stored and spent once
even by two workers at a time, and a refused refresh is the same task."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.credentials import CredentialBox, link_calendar
from domain.scheduling.records import Reschedule, SlotRequest
from domain.scheduling.write_back import google_event_id, write_back_appointment
from ops.tenants import seed_demo
from tests.support.calendar_servers import (
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    TEST_REFRESH_TOKEN,
    GoogleCalendarServer,
    JobberServer,
    serve,
)
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.calendar_writes import build_calendar_writers
from workers.adapters.oauth_tokens import build_token_refresher
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

    def link(
        self,
        provider: str,
        *,
        token: str = GOOD_TOKEN,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
    ) -> uuid.UUID:
        with transaction(self.sessions) as session:
            return link_calendar(
                session,
                tenant_id=self.tenant_id,
                resource_id=self.resource_id,
                provider=provider,
                external_ref=CALENDAR if provider == "google" else JOBBER_REF,
                access_token=token,
                refresh_token=refresh_token,
                token_expires_at=expires_at,
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

    def stored(self, calendar_id: uuid.UUID) -> tuple[str | None, str | None, datetime | None, str]:
        """The calendar's access token, refresh token (decrypted), expiry and status as stored."""
        box = CredentialBox(self.settings.credentials_key)
        (row,) = self.rows(
            "SELECT access_token, refresh_token, token_expires_at, status FROM sched_calendar_credentials"
            " WHERE calendar_id = :c",
            c=calendar_id,
        )
        refresh = None if row.refresh_token is None else box.open(row.refresh_token)
        return box.open(row.access_token), refresh, row.token_expires_at, row.status

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
                "google_oauth_client_id": TEST_CLIENT_ID,
                "google_oauth_client_secret": SecretStr(TEST_CLIENT_SECRET),
                "google_oauth_token_url": google.token_url,
                "jobber_oauth_client_id": TEST_CLIENT_ID,
                "jobber_oauth_client_secret": SecretStr(TEST_CLIENT_SECRET),
                "jobber_oauth_token_url": jobber.token_url,
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


# --- access tokens renewed with the refresh token -------------------------------------------------------------------

EXPIRED = datetime.now(UTC) - timedelta(minutes=5)


def _bearers(server: GoogleCalendarServer | JobberServer) -> set[str]:
    return {r["headers"].get("Authorization", "").removeprefix("Bearer ") for r in server.requests}


def test_an_expired_access_token_is_renewed_before_the_write_and_stored(env: Env) -> None:
    stale = env.google.issue(lifetime_seconds=-60)
    calendar_id = env.link("google", token=stale, refresh_token=TEST_REFRESH_TOKEN, expires_at=EXPIRED)
    appointment_id = env.book()
    env.drain()
    assert google_event_id(appointment_id) in env.google.events[CALENDAR]
    (exchange,) = env.google.token_requests
    assert exchange == {
        "client_id": TEST_CLIENT_ID,
        "client_secret": TEST_CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": TEST_REFRESH_TOKEN,
    }
    access, refresh, expires_at, status = env.stored(calendar_id)
    assert stale not in _bearers(env.google)  # renewed before the first call, not after a 401
    assert _bearers(env.google) == {access}
    assert refresh == TEST_REFRESH_TOKEN  # Google keeps the refresh token
    assert expires_at is not None
    assert abs((expires_at - datetime.now(UTC)) - timedelta(seconds=3599)) < timedelta(seconds=30)
    assert status == "active"


def test_a_401_renews_the_token_once_and_the_calls_are_made_again(env: Env) -> None:
    revoked = env.google.issue()
    calendar_id = env.link("google", token=revoked, refresh_token=TEST_REFRESH_TOKEN)  # expiry not known
    env.google.expire_issued()
    appointment_id = env.book()
    outcomes = env.drain()
    assert "scheduling.write_back_booking:done" in outcomes
    assert google_event_id(appointment_id) in env.google.events[CALENDAR]
    assert len(env.google.token_requests) == 1
    refused = [r for r in env.google.requests if r["headers"]["Authorization"] == f"Bearer {revoked}"]
    assert len(refused) == 1  # the first call, answered 401; then everything with the new token
    assert env.stored(calendar_id)[0] not in (None, revoked)
    assert env.tasks() == []


def test_a_token_still_refused_after_its_renewal_is_a_task(env: Env) -> None:
    env.link("google", token="s3cret-token", refresh_token=TEST_REFRESH_TOKEN)
    env.google.token_lifetime_seconds = 0  # what it issues is expired at once: the retry is refused as well
    env.book()
    assert "scheduling.write_back_booking:done" in env.drain()
    assert len(env.google.token_requests) == 1  # renewed once, not again and again
    ((kind, _note),) = env.tasks()
    assert kind == "calendar_credentials"


def test_jobber_rotates_the_refresh_token_the_new_one_is_stored_and_the_old_one_refused(env: Env) -> None:
    calendar_id = env.link(
        "jobber", token=env.jobber.issue(lifetime_seconds=-60), refresh_token=TEST_REFRESH_TOKEN, expires_at=EXPIRED
    )
    appointment_id = env.book()
    env.drain()
    assert env.writes(env.jobber) == ["visitCreate"]
    access, refresh, expires_at, _status = env.stored(calendar_id)
    (valid,) = env.jobber.refresh_tokens
    assert refresh == valid != TEST_REFRESH_TOKEN
    assert access is not None
    # The expiry is the exp claim of Jobber's JWT (its answer has no expires_in).
    assert expires_at is not None
    assert abs(expires_at.timestamp() - env.jobber.issued[access]) < 1
    with httpx.Client() as client:
        spent = client.post(
            env.jobber.token_url,
            data={"client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET, "grant_type": "refresh_token",
                  "refresh_token": TEST_REFRESH_TOKEN},
        )  # fmt: skip
    assert (spent.status_code, spent.json()["error"]) == (400, "invalid_grant")
    # Expired again: the stored (rotated) refresh token renews it, and rotates once more.
    env.jobber.expire_issued()
    env.reschedule(appointment_id, START + timedelta(days=1))
    env.drain()
    assert env.writes(env.jobber) == ["visitCreate", "visitEditSchedule"]
    assert [form["refresh_token"] for form in env.jobber.token_requests[2:]] == [valid]  # after ours with the spent one
    assert env.stored(calendar_id)[1] == next(iter(env.jobber.refresh_tokens)) != valid


def test_two_workers_renewing_one_jobber_credential_spend_its_refresh_token_once(env: Env) -> None:
    calendar_id = env.link(
        "jobber", token=env.jobber.issue(lifetime_seconds=-60), refresh_token=TEST_REFRESH_TOKEN, expires_at=EXPIRED
    )
    appointments = [env.book(), env.book(START + timedelta(hours=4))]
    env.jobber.token_delay = 0.3  # the first exchange is still running when the second worker wants one
    box = CredentialBox(env.settings.credentials_key)
    start = threading.Barrier(len(appointments))
    written: list[int] = []
    errors: list[BaseException] = []

    def worker(appointment_id: uuid.UUID) -> None:
        try:
            with httpx.Client(timeout=5) as http, transaction(env.sessions) as session:
                start.wait(timeout=5)
                written.append(
                    write_back_appointment(
                        session, tenant_id=env.tenant_id, appointment_id=appointment_id,
                        writer=build_calendar_writers(env.settings, http=http), box=box,
                        refresher=build_token_refresher(env.settings, http=http), events=RootSink(session),
                        intents=env.sessions, title="Booked by text", clock=lambda: datetime.now(UTC),
                    )
                )  # fmt: skip
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(appointment_id,)) for appointment_id in appointments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    assert written == [1, 1]
    assert env.writes(env.jobber) == ["visitCreate", "visitCreate"]
    assert len(env.jobber.token_requests) == 1  # the second found the first's token after waiting for the lock
    _access, refresh, _expires_at, status = env.stored(calendar_id)
    assert env.jobber.refresh_tokens == {refresh}
    assert status == "active"


def test_a_refresh_answered_invalid_grant_marks_the_link_invalid_and_opens_a_task(env: Env) -> None:
    calendar_id = env.link(
        "google", token=env.google.issue(lifetime_seconds=-60), refresh_token=secrets.token_hex(8), expires_at=EXPIRED
    )
    env.book()
    outcomes = env.drain()
    assert "scheduling.write_back_booking:done" in outcomes
    assert env.writes(env.google) == []
    ((kind, note),) = env.tasks()
    assert kind == "calendar_credentials"
    assert "invalid_grant" in note
    (row,) = env.rows("SELECT status, problem FROM sched_calendar_credentials WHERE calendar_id = :c", c=calendar_id)
    assert row.status == "invalid"
    assert "token refresh: 400 invalid_grant" in row.problem


def test_a_token_endpoint_that_is_down_is_retried(env: Env) -> None:
    calendar_id = env.link(
        "google", token=env.google.issue(lifetime_seconds=-60), refresh_token=TEST_REFRESH_TOKEN, expires_at=EXPIRED
    )
    env.google.fail_token_next(503)
    appointment_id = env.book()
    outcomes = env.drain()
    assert "scheduling.write_back_booking:failed:CalendarUnavailable" in outcomes
    assert env.stored(calendar_id)[3] == "active"
    assert env.tasks() == []
    with transaction(env.sessions) as session:
        session.execute(
            text("UPDATE outbox_deliveries SET status = 'enqueued' WHERE handler = 'scheduling.write_back_booking'")
        )
    env.drain()
    assert google_event_id(appointment_id) in env.google.events[CALENDAR]
    assert len(env.google.token_requests) == 2


def test_without_the_oauth_client_an_expired_link_is_a_task_naming_the_variables(env: Env) -> None:
    env.link(
        "jobber", token=env.jobber.issue(lifetime_seconds=-60), refresh_token=TEST_REFRESH_TOKEN, expires_at=EXPIRED
    )
    unconfigured = env.settings.model_copy(
        update={"jobber_oauth_client_id": "", "jobber_oauth_client_secret": SecretStr("")}
    )
    appointment_id = env.book()
    with httpx.Client(timeout=5) as http, transaction(env.sessions) as session:
        written = write_back_appointment(
            session, tenant_id=env.tenant_id, appointment_id=appointment_id,
            writer=build_calendar_writers(unconfigured, http=http), box=CredentialBox(env.settings.credentials_key),
            refresher=build_token_refresher(unconfigured, http=http), events=RootSink(session), intents=env.sessions,
            title="Booked by text", clock=lambda: datetime.now(UTC),
        )  # fmt: skip
    assert written == 0
    assert env.jobber.token_requests == []
    (row,) = env.rows("SELECT status, problem FROM sched_calendar_credentials")
    assert row.status == "invalid"
    assert "JOBBER_OAUTH_CLIENT_ID and JOBBER_OAUTH_CLIENT_SECRET are not set" in row.problem
    failed = env.rows(
        "SELECT payload FROM outbox_events WHERE event_name = 'nmc.scheduling.AppointmentWriteBackFailed'"
    )
    assert [event.payload["reason"] for event in failed] == ["credentials_refused"]
