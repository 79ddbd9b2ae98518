"""Bulk loads straight into the sched_* tables, one multi-row INSERT per call: how a benchmark or a fixture seeds a
busy schedule in a scratch database without importing scheduling's models.

Nothing here goes through the write path: no advisory lock, no working-hours or lead-time check, no event. The
constraints still hold (an overlapping booked appointment or active hold is refused by its exclusion constraint),
so a load is a valid schedule, just not a booking anyone made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.orm import Session

from domain.scheduling.models import Appointment, ExternalBusy, Hold
from domain.scheduling.records import SlotRequest
from domain.scheduling.sync import BusyBlock


def _slot(starts_at: datetime, ends_at: datetime) -> Range[datetime]:
    return Range(starts_at, ends_at, bounds="[)")


def load_external_busy(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    calendar_id: uuid.UUID,
    resource_id: uuid.UUID,
    blocks: Iterable[BusyBlock],
) -> int:
    """Busy blocks on one of the resource's calendars, as if a sync had mirrored them; returns how many."""
    rows = [
        {
            "tenant_id": tenant_id,
            "calendar_id": calendar_id,
            "resource_id": resource_id,
            "timeslot": _slot(block.starts_at, block.ends_at),
            "all_day": block.all_day,
            "external_ref": block.external_ref,
        }
        for block in blocks
    ]
    if rows:
        session.execute(insert(ExternalBusy), rows)
    return len(rows)


def load_appointments(
    session: Session, *, tenant_id: uuid.UUID, slots: Iterable[SlotRequest], price_cents: int, currency: str = "USD"
) -> int:
    """Booked appointments at one price (each slot needs its ``customer_phone``); returns how many."""
    rows = [
        {
            "tenant_id": tenant_id,
            "resource_id": slot.resource_id,
            "service_item_id": slot.service_item_id,
            "timeslot": _slot(slot.starts_at, slot.ends_at),
            "status": "booked",
            "customer_phone": slot.customer_phone,
            "price_cents": price_cents,
            "currency": currency,
            "conversation_id": slot.conversation_id,
        }
        for slot in slots
    ]
    if rows:
        session.execute(insert(Appointment), rows)
    return len(rows)


def load_holds(session: Session, *, tenant_id: uuid.UUID, slots: Iterable[SlotRequest], expires_at: datetime) -> int:
    """Active holds that all expire at ``expires_at``; returns how many."""
    rows = [
        {
            "tenant_id": tenant_id,
            "resource_id": slot.resource_id,
            "service_item_id": slot.service_item_id,
            "timeslot": _slot(slot.starts_at, slot.ends_at),
            "status": "active",
            "expires_at": expires_at,
            "customer_phone": slot.customer_phone,
            "conversation_id": slot.conversation_id,
        }
        for slot in slots
    ]
    if rows:
        session.execute(insert(Hold), rows)
    return len(rows)
