"""Reminders, decided from the appointment as it is now: which are due, claimed once each, and whether one still is.

A reminder is a row keyed by (appointment, start time, offset). It is due when the appointment is booked, starts
within the offset but not yet within the next smaller one (so a late scheduler sends the nearest reminder, not every
missed one), and the moment it names came after the timeslot was set (a booking made 20 hours ahead gets no
"tomorrow" reminder, its confirmation said so). Claiming inserts the row: ``ON CONFLICT DO NOTHING`` on the unique key
is what makes two schedulers, a restart or a replay claim it once. A reschedule gives the appointment a new start,
so the old rows can never match it again and new ones come due; a cancelled appointment is never claimed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.events.catalog import AppointmentConfirmedByCaller
from domain.events.sink import EventSink

_CLAIM_DUE = text(
    """
    WITH o AS (
        SELECT tenant_id, offset_minutes,
               coalesce(lead(offset_minutes) OVER (PARTITION BY tenant_id ORDER BY offset_minutes DESC), 0)
                   AS next_offset
        FROM unnest(CAST(:tenants AS uuid[]), CAST(:offsets AS int[])) AS x(tenant_id, offset_minutes)
    ), due AS (
        SELECT a.id AS appointment_id, a.tenant_id, o.offset_minutes, lower(a.timeslot) AS starts_at,
               lower(a.timeslot) - make_interval(mins => o.offset_minutes) AS due_at
        FROM o JOIN sched_appointments a ON a.tenant_id = o.tenant_id
        WHERE a.status = 'booked'
          AND lower(a.timeslot) > :now
          AND lower(a.timeslot) <= :now + make_interval(mins => o.offset_minutes)
          AND lower(a.timeslot) > :now + make_interval(mins => o.next_offset)
          AND lower(a.timeslot) - make_interval(mins => o.offset_minutes) >= a.timeslot_set_at
          AND NOT EXISTS (SELECT 1 FROM sched_reminders r WHERE r.appointment_id = a.id
                          AND r.starts_at = lower(a.timeslot) AND r.offset_minutes = o.offset_minutes)
        ORDER BY due_at
        LIMIT :limit
    ), claimed AS (
        INSERT INTO sched_reminders (id, tenant_id, appointment_id, offset_minutes, starts_at, due_at, status,
                                     claimed_at)
        SELECT gen_random_uuid(), tenant_id, appointment_id, offset_minutes, starts_at, due_at, 'due', :now FROM due
        ON CONFLICT (appointment_id, starts_at, offset_minutes) DO NOTHING
        RETURNING id, tenant_id, appointment_id, offset_minutes, starts_at, due_at
    )
    SELECT c.id, c.tenant_id, c.appointment_id, c.offset_minutes, c.starts_at, c.due_at, upper(a.timeslot) AS ends_at,
           a.customer_phone, a.service_item_id, a.resource_id, a.conversation_id
    FROM claimed c JOIN sched_appointments a ON a.id = c.appointment_id
    ORDER BY c.due_at
    """
)
_ATTACH = text("UPDATE sched_reminders SET message_id = :message WHERE id = :id")
_CURRENT = text(
    "SELECT r.id FROM sched_reminders r JOIN sched_appointments a ON a.id = r.appointment_id"
    " WHERE r.tenant_id = :tenant AND r.message_id = :message AND r.status = 'due' AND a.status = 'booked'"
    " AND lower(a.timeslot) = r.starts_at AND lower(a.timeslot) > :now"
)
_VOID = text("UPDATE sched_reminders SET status = 'void' WHERE tenant_id = :tenant AND message_id = :message")
_IS_REMINDER = text("SELECT 1 FROM sched_reminders WHERE tenant_id = :tenant AND message_id = :message")
_CONFIRM = text(
    "UPDATE sched_appointments SET confirmed_at = coalesce(confirmed_at, :now)"
    " WHERE tenant_id = :tenant AND id = :id AND status = 'booked' AND upper(timeslot) > :now"
    " RETURNING lower(timeslot) AS starts_at, conversation_id, confirmed_at = :now AS newly"
)


@dataclass(frozen=True)
class DueReminder:
    id: uuid.UUID
    tenant_id: uuid.UUID
    appointment_id: uuid.UUID
    offset_minutes: int
    starts_at: datetime
    ends_at: datetime
    due_at: datetime
    customer_phone: str
    service_item_id: uuid.UUID
    resource_id: uuid.UUID
    conversation_id: uuid.UUID | None


def claim_due_reminders(
    session: Session, *, now: datetime, offsets: Mapping[uuid.UUID, tuple[int, ...]], limit: int = 500
) -> list[DueReminder]:
    """Claim (once, for ever) up to ``limit`` reminders due at ``now``, earliest due first."""
    tenants = [tenant for tenant, values in offsets.items() for _ in values]
    minutes = [value for values in offsets.values() for value in values]
    if not tenants:
        return []
    rows = session.execute(_CLAIM_DUE, {"tenants": tenants, "offsets": minutes, "now": now, "limit": limit})
    return [DueReminder(**row._mapping) for row in rows]


def attach_message(session: Session, reminder_id: uuid.UUID, message_id: uuid.UUID) -> None:
    session.execute(_ATTACH, {"id": reminder_id, "message": message_id})


def is_reminder_message(session: Session, *, tenant_id: uuid.UUID, message_id: uuid.UUID) -> bool:
    return session.execute(_IS_REMINDER, {"tenant": tenant_id, "message": message_id}).first() is not None


def reminder_still_current(session: Session, *, tenant_id: uuid.UUID, message_id: uuid.UUID, now: datetime) -> bool:
    """Whether the reminder this message carries still names the appointment's booked, future start; voided if not
    (a deferred reminder whose appointment moved or was cancelled meanwhile)."""
    if session.execute(_CURRENT, {"tenant": tenant_id, "message": message_id, "now": now}).first() is not None:
        return True
    session.execute(_VOID, {"tenant": tenant_id, "message": message_id})
    return False


def confirm_by_caller(
    session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime, events: EventSink
) -> datetime | None:
    """The caller said they will be there: recorded once (``AppointmentConfirmedByCaller``); the start, or None when
    the appointment is no longer booked and ahead."""
    row = session.execute(_CONFIRM, {"tenant": tenant_id, "id": appointment_id, "now": now}).first()
    if row is None:
        return None
    if row.newly:
        events.emit(
            AppointmentConfirmedByCaller(
                appointment_id=appointment_id, conversation_id=row.conversation_id, starts_at=row.starts_at
            ),
            tenant_id=tenant_id,
            occurred_at=now,
        )
    starts_at: datetime = row.starts_at
    return starts_at
