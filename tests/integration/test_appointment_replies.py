"""Replies to a confirmation or reminder, through the real pipeline: confirm is recorded, cancel asks once then
frees the slot, reschedule offers real open slots, holds one and moves the appointment into it (the old slot free
in the same transaction), and anything else goes to the normal engine; the outcome is on the conversation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from db.engine import transaction
from domain.events import outbox
from domain.events.catalog import MessageReceived
from ops.tenants import DEMO_NUMBER
from tests.support import lifecycle_system
from tests.support.lifecycle_system import T0, Lifecycle, caller
from tests.support.sandbox_world import sandbox_key_path, world  # noqa: F401

life = lifecycle_system.life  # the fixture, by name so pytest finds it here


def texts(life: Lifecycle, number: str) -> list[str]:
    return [m["body"] for m in life.sent_to(number)]


def say(life: Lifecycle, number: str, body: str) -> list[str]:
    """The caller texts ``body``; the texts they got back."""
    before = len(texts(life, number))
    with transaction(life.sessions) as session:
        outbox.append(
            session,
            MessageReceived(
                message_sid=f"SM{uuid.uuid4().hex}",
                from_number=number,
                to_number=DEMO_NUMBER,
                body=body,
                num_media=0,
                media_urls=(),
                received_at=life.clock.now,
            ),
            tenant_id=life.tenant_id,
        )
    life.drain()
    return texts(life, number)[before:]


def booked_by_staff(life: Lifecycle) -> tuple[str, uuid.UUID, datetime]:
    number = caller()
    starts = T0 + timedelta(days=2, hours=1)  # Wednesday 11 am in Boston
    appointment = life.book(number, starts)
    life.drain()
    (confirmation,) = texts(life, number)
    assert "is booked for Wednesday, March 3" in confirmation
    assert "Reply C to confirm, R to reschedule or X to cancel." in confirmation
    return number, appointment, starts


def outcome(life: Lifecycle, number: str) -> str | None:
    (row,) = life.rows(
        "SELECT appointment_context ->> 'outcome' AS outcome FROM conv_conversations WHERE caller = :n", n=number
    )
    return row.outcome


def test_confirm_is_recorded_and_shown(life: Lifecycle) -> None:
    number, appointment, _ = booked_by_staff(life)
    (answer,) = say(life, number, "C")
    assert answer.startswith("Thanks, you're confirmed for Wednesday, March 3")
    (row,) = life.rows("SELECT confirmed_at FROM sched_appointments WHERE id = :a", a=appointment)
    assert row.confirmed_at is not None
    assert outcome(life, number) == "confirmed"
    events = life.rows("SELECT 1 FROM outbox_events WHERE event_name = 'nmc.scheduling.AppointmentConfirmedByCaller'")
    assert len(events) == 1


def test_cancel_asks_once_then_frees_the_slot(life: Lifecycle) -> None:
    number, appointment, starts = booked_by_staff(life)
    (question,) = say(life, number, "X")
    assert "Reply YES to cancel or NO to keep it" in question
    (row,) = life.rows("SELECT status FROM sched_appointments WHERE id = :a", a=appointment)
    assert row.status == "booked"  # asked, not yet done
    (done,) = say(life, number, "yes")
    assert "is cancelled" in done
    (row,) = life.rows("SELECT status FROM sched_appointments WHERE id = :a", a=appointment)
    assert row.status == "cancelled"
    assert outcome(life, number) == "cancelled"
    # The slot is free: someone else can book it now.
    life.book(caller(), starts)


def test_reschedule_offers_real_slots_holds_one_and_moves_into_it(life: Lifecycle) -> None:
    number, appointment, starts = booked_by_staff(life)
    (offer,) = say(life, number, "R")
    assert offer.startswith("These times are open: 1) ")
    (held,) = say(life, number, "2")
    assert held.startswith("I'm holding ")
    holds = life.rows("SELECT id, status FROM sched_holds WHERE customer_phone = :n", n=number)
    assert [hold.status for hold in holds] == ["active"]
    moved = say(life, number, "YES")
    (row,) = life.rows("SELECT lower(timeslot) AS starts_at FROM sched_appointments WHERE id = :a", a=appointment)
    assert row.starts_at != starts
    assert [m for m in moved if "is moved to" in m]  # the new time, confirmed by its own text
    (hold,) = life.rows("SELECT status FROM sched_holds WHERE customer_phone = :n", n=number)
    assert hold.status != "active"
    assert outcome(life, number) == "rescheduled"
    # The old time is free again, in the same transaction as the move.
    life.book(caller(), starts)


def test_anything_else_goes_to_the_engine(life: Lifecycle) -> None:
    number, _, _ = booked_by_staff(life)
    (answer,) = say(life, number, "do you also fix water heaters?")
    assert "confirmed" not in answer
    (row,) = life.rows("SELECT appointment_context FROM conv_conversations WHERE caller = :n", n=number)
    assert row.appointment_context is None
