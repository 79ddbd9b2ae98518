"""Reminders from the appointment's current state, through the real pipeline and the sandbox: a reschedule is
reminded at its new time only, a cancelled appointment never, a scheduler and a worker dying around the send still
send once, and quiet hours defer (never drop) a reminder with the rule recorded."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.composition import lifecycle
from domain.conversations.ports import SendFailed
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from ops.sandbox.client import SandboxClient
from ops.tenants import seed_demo
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.gated_sms import GatedSmsSender
from workers.adapters.twilio_gateway import TwilioGateway
from workers.bootstrap import build_dispatcher, build_worker_runtime

# A retrying delivery made due now (its backoff skipped), as the redriver would find it later.
RETRY_NOW = text("UPDATE outbox_deliveries SET status = 'enqueued', next_attempt_at = now() WHERE status = 'retrying'")
# 10 am in Boston (the callers' 617 numbers), a Monday: inside every quiet-hours window.
T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class DiesAfterSending:
    """The provider takes the first message, then the worker 'dies' before its transaction commits."""

    def __init__(self, real: GatedSmsSender) -> None:
        self.real = real
        self.died = False

    def send(self, decision: Any, **kwargs: Any) -> Any:
        accepted = self.real.send(decision, **kwargs)
        if not self.died:
            self.died = True
            raise SendFailed(None, "worker killed after the provider accepted", retryable=True)
        return accepted

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Lifecycle:
    def __init__(self, settings: Settings, world: World, *, dies: bool = False) -> None:  # noqa: F811
        self.clock = Clock(T0)
        wired = settings.model_copy(
            update={
                "twilio_api_base_url": world.url,
                "public_base_url": world.ingress.base_url,
                "twilio_account_sid": world.settings.twilio_account_sid,
                "twilio_auth_token": world.settings.twilio_auth_token,
            }
        )
        deps: dict[str, object] = {}
        if dies:
            deps["sms"] = DiesAfterSending(GatedSmsSender(TwilioGateway(wired), wired))
        self.runtime, self.runner = build_worker_runtime(wired, clock=self.clock, dependencies=deps)
        self.sessions: sessionmaker[Session] = self.runtime.sessions
        self.dispatcher = build_dispatcher(self.runtime, clock=self.clock)
        self.world = world
        with transaction(self.sessions) as session:
            demo = seed_demo(session, wired)
        self.tenant_id = uuid.UUID(demo["id"])
        self.resource_id = uuid.UUID(demo["resources"][0]["id"])
        self.service_item_id = uuid.UUID(demo["service_items"][0]["id"])

    def book(self, caller: str, starts_at: datetime, *, now: datetime = T0) -> uuid.UUID:
        with transaction(self.sessions) as session:
            booked = scheduling.book_slot(
                session,
                scheduling.SlotRequest(
                    self.resource_id, self.service_item_id, starts_at, starts_at + timedelta(hours=1), caller
                ),
                tenant_id=self.tenant_id,
                price_cents=10000,
                currency="USD",
                now=now,
                events=RootSink(session),
                enforce_hours=False,
            )
        return booked.id

    def reminders_job(self, now: datetime) -> int:
        self.clock.now = now
        return lifecycle.run_in_batches(self.sessions, lifecycle.send_due_reminders, now=now)

    def drain(self) -> list[str]:
        return drain(self.dispatcher, self.runner, self.sessions)

    def sent_to(self, caller: str) -> list[dict[str, Any]]:
        return SandboxClient(self.world.url, http=self.world.http).messages(to=caller)

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(text(query), params).all())

    def close(self) -> None:
        self.runtime.broker.close()
        self.runtime.engine.dispose()


@pytest.fixture
def life(settings: Settings, world: World) -> Iterator[Lifecycle]:  # noqa: F811
    system = Lifecycle(settings, world)
    yield system
    system.close()


def caller() -> str:
    return f"+1617555{uuid.uuid4().int % 10_000:04d}"


def reminders_sent(life: Lifecycle, number: str) -> list[str]:
    return [m["body"] for m in life.sent_to(number) if m["body"].startswith("Reminder")]


def test_a_rescheduled_appointment_is_reminded_at_its_new_time_only(life: Lifecycle) -> None:
    number = caller()
    first = T0 + timedelta(hours=30)
    appointment = life.book(number, first)
    moved_to = T0 + timedelta(hours=54)
    with transaction(life.sessions) as session:
        scheduling.reschedule_appointment(
            session,
            scheduling.Reschedule(appointment, moved_to),
            tenant_id=life.tenant_id,
            now=T0 + timedelta(hours=1),
            events=RootSink(session),
            enforce_hours=False,
        )
    assert life.reminders_job(first - timedelta(hours=24)) == 0  # the old time's reminder is never due
    assert life.reminders_job(first - timedelta(hours=2)) == 0
    assert life.reminders_job(moved_to - timedelta(hours=24)) == 1
    life.drain()
    assert life.reminders_job(moved_to - timedelta(hours=24) + timedelta(minutes=5)) == 0
    (reminder,) = reminders_sent(life, number)
    assert "Wednesday, March 3 at 4:00 PM" in reminder  # 21:00 UTC on 3 March, in the tenant's zone
    (row,) = life.rows("SELECT starts_at, offset_minutes FROM sched_reminders WHERE appointment_id = :a", a=appointment)
    assert (row.starts_at, row.offset_minutes) == (moved_to, 1440)
    # The reschedule itself was confirmed to the caller, with the new time.
    confirmations = [m["body"] for m in life.sent_to(number) if "is moved to" in m["body"]]
    assert len(confirmations) == 1


def test_a_cancelled_appointment_is_never_reminded(life: Lifecycle) -> None:
    number = caller()
    starts = T0 + timedelta(hours=30)
    appointment = life.book(number, starts)
    with transaction(life.sessions) as session:
        scheduling.cancel_appointment(
            session,
            tenant_id=life.tenant_id,
            appointment_id=appointment,
            reason="test",
            now=T0,
            events=RootSink(session),
        )
    assert life.reminders_job(starts - timedelta(hours=24)) == 0
    assert life.reminders_job(starts - timedelta(hours=2)) == 0
    life.drain()
    assert reminders_sent(life, number) == []


def test_two_schedulers_racing_claim_a_reminder_once(life: Lifecycle) -> None:
    number = caller()
    starts = T0 + timedelta(hours=30)
    life.book(number, starts)
    due = starts - timedelta(hours=24)
    claimed_first, let_go = threading.Event(), threading.Event()
    counts: dict[str, int] = {}

    def holding_scheduler() -> None:
        with transaction(life.sessions) as session:
            counts["first"] = lifecycle.send_due_reminders(session, now=due)
            claimed_first.set()
            let_go.wait(10)

    first = threading.Thread(target=holding_scheduler)
    first.start()
    assert claimed_first.wait(10)
    second = threading.Thread(target=lambda: counts.__setitem__("second", life.reminders_job(due)))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting on the unique key the first holds, not deciding by itself
    let_go.set()
    first.join(10)
    second.join(10)
    assert counts == {"first": 1, "second": 0}
    # A scheduler killed mid-batch rolls its claim back with its messages: the next run claims it (and only once).
    starts_b = T0 + timedelta(hours=34)
    other = caller()
    life.book(other, starts_b)
    with life.sessions() as session, session.begin():
        assert lifecycle.send_due_reminders(session, now=starts_b - timedelta(hours=24)) == 1
        session.rollback()
    assert life.reminders_job(starts_b - timedelta(hours=24)) == 1
    life.drain()
    assert len(reminders_sent(life, number)) == 1
    assert len(reminders_sent(life, other)) == 1


def test_a_worker_killed_after_the_provider_took_the_reminder_sends_it_once(
    settings: Settings,
    world: World,  # noqa: F811
) -> None:
    life = Lifecycle(settings, world, dies=True)
    try:
        # The retry asks the provider what it took since the send intent, by the provider's own (real) clock: this
        # test runs on real time, with a caller whose zone is in daytime now (Boston, Honolulu or Guam).
        from domain.compliance import quiet_hours

        now = datetime.now(UTC)
        number = next(
            prefix + f"{uuid.uuid4().int % 10_000:04d}"
            for prefix in ("+1617555", "+1808555", "+1671555")
            if quiet_hours.assess(quiet_hours.whereabouts(prefix + "0100"), now=now).send_now
        )
        starts = now + timedelta(hours=23)
        life.book(number, starts, now=now - timedelta(hours=2))
        assert life.reminders_job(now) == 1
        outcomes = life.drain()
        assert "conversations.send_message:failed:SendFailed" in outcomes
        with transaction(life.sessions) as session:
            session.execute(RETRY_NOW)
        life.drain()
        assert len(reminders_sent(life, number)) == 1
        (message,) = life.rows(
            "SELECT status FROM conv_messages WHERE purpose = 'reminder' AND to_number = :n", n=number
        )
        assert message.status in ("queued", "sent", "delivered")
    finally:
        life.close()


def test_a_reminder_due_in_quiet_hours_waits_for_8_am_and_records_the_rule(life: Lifecycle) -> None:
    from domain.identity import lifecycle as tenant_lifecycle

    with transaction(life.sessions) as session:
        tenant_lifecycle.update_lifecycle_settings(session, tenant_id=life.tenant_id, reminder_offsets_minutes=[720])
    miami = "+1305555" + f"{uuid.uuid4().int % 10_000:04d}"  # Florida: 8 am - 8 pm
    starts = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)  # 9 am in Miami: the 12 h reminder is due at 9 pm the night before
    kept = life.book(miami, starts)
    cancelled_caller = "+1305555" + f"{uuid.uuid4().int % 10_000:04d}"
    cancelled = life.book(cancelled_caller, starts + timedelta(hours=2))
    life.drain()  # the bookings' confirmations, at 10 am
    assert life.reminders_job(starts - timedelta(hours=12)) == 1
    assert life.reminders_job(starts - timedelta(hours=10)) == 1
    life.drain()
    assert reminders_sent(life, miami) == []
    (deferred,) = life.rows(
        "SELECT id, status, not_before, preflight FROM conv_messages WHERE purpose = 'reminder' AND to_number = :n",
        n=miami,
    )
    assert deferred.status == "pending"
    assert deferred.preflight["quiet_hours_rule"] == "us-fl-ftsa"
    assert deferred.preflight["quiet_hours_version"] == 1
    assert deferred.not_before == datetime(2027, 3, 3, 13, 0, tzinfo=UTC)  # 8 am EST
    # Cancelled overnight: the reminder is decided again from the appointment as it is in the morning.
    with transaction(life.sessions) as session:
        scheduling.cancel_appointment(
            session,
            tenant_id=life.tenant_id,
            appointment_id=cancelled,
            reason="test",
            now=starts,
            events=RootSink(session),
        )
    life.clock.now = deferred.not_before
    assert lifecycle.run_in_batches(life.sessions, lifecycle.release_deferred, now=deferred.not_before) == 2
    life.drain()
    (sent,) = reminders_sent(life, miami)
    assert "Wednesday, March 3 at 9:00 AM" in sent
    assert reminders_sent(life, cancelled_caller) == []
    assert kept is not None
