"""Reminders from the appointment's current state, through the real pipeline and the sandbox: a reschedule is
reminded at its new time only, a cancelled appointment never, a scheduler and a worker dying around the send still
send once, and quiet hours defer (never drop) a reminder with the rule recorded."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from db.engine import transaction
from db.settings import Settings
from domain.composition import lifecycle
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from tests.support import lifecycle_system
from tests.support.lifecycle_system import RETRY_NOW, T0, Lifecycle, caller, missed_call, reminders_sent
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401

life = lifecycle_system.life  # the fixture, by name so pytest finds it here


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
    dying = Lifecycle(settings, world, dies=True)
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
        dying.book(number, starts, now=now - timedelta(hours=2))
        assert dying.reminders_job(now) == 1
        outcomes = dying.drain()
        assert "conversations.send_message:failed:SendFailed" in outcomes
        with transaction(dying.sessions) as session:
            session.execute(RETRY_NOW)
        dying.drain()
        assert len(reminders_sent(dying, number)) == 1
        (message,) = dying.rows(
            "SELECT status FROM conv_messages WHERE purpose = 'reminder' AND to_number = :n", n=number
        )
        assert message.status in ("queued", "sent", "delivered")
    finally:
        dying.close()


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


def test_the_first_sms_goes_at_once_at_night_unless_the_tenant_chose_to_defer_it(life: Lifecycle) -> None:
    from domain.identity import lifecycle as tenant_lifecycle

    life.clock.now = datetime(2027, 3, 2, 3, 0, tzinfo=UTC)  # 10 pm in Boston
    at_once = caller()
    missed_call(life, at_once)
    assert len(life.sent_to(at_once)) == 1  # the caller just called: sent now
    with transaction(life.sessions) as session:
        tenant_lifecycle.update_lifecycle_settings(session, tenant_id=life.tenant_id, first_sms_quiet_hours="defer")
    waits = caller()
    missed_call(life, waits)
    assert life.sent_to(waits) == []
    (first,) = life.rows(
        "SELECT status, not_before, preflight FROM conv_messages WHERE purpose = 'first_response' AND to_number = :n",
        n=waits,
    )
    assert (first.status, first.preflight["quiet_hours_rule"]) == ("pending", "us-tcpa")
    assert first.not_before == datetime(2027, 3, 2, 13, 0, tzinfo=UTC)  # 8 am EST


def test_a_fourth_automated_text_in_24_hours_to_florida_waits_for_the_cap(life: Lifecycle) -> None:
    miami = "+1305555" + f"{uuid.uuid4().int % 10_000:04d}"
    starts = [T0 + timedelta(hours=30 + 3 * n) for n in range(3)]
    for start in starts:
        life.book(miami, start)
    life.drain()  # three confirmations at 10 am: the FTSA's three per 24 hours
    assert len(life.sent_to(miami)) == 3
    assert life.reminders_job(starts[0] - timedelta(hours=24)) == 1  # 4 pm: inside the window, over the cap
    life.drain()
    assert reminders_sent(life, miami) == []
    (capped,) = life.rows(
        "SELECT status, not_before, preflight FROM conv_messages WHERE purpose = 'reminder' AND to_number = :n",
        n=miami,
    )
    assert capped.status == "pending"
    assert (capped.preflight["deferred"], capped.preflight["quiet_hours_rule"]) == ("daily_cap", "us-fl-ftsa")
    assert capped.not_before == T0 + timedelta(hours=24)  # when the first confirmation is a day old
