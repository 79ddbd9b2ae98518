"""What scheduling hands out: frozen records (never ORM rows, so nothing read is written back by accident), and
the value objects its write functions take instead of long keyword lists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time

from domain.scheduling.availability import Preference, Shift
from domain.scheduling.models import Appointment, Hold, ResourceCalendar, TimeOff


@dataclass(frozen=True)
class SlotRequest:
    """A time on one resource for one service, and who it is for: what a hold or a direct booking asks for."""

    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    customer_phone: str | None = None
    conversation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class SlotSearch:
    """Open slots wanted: ``duration_minutes`` long for a service (``None``: any resource's hours) within
    ``[window_start, window_end)``, optionally on one resource and to a caller's wish; at most ``limit`` (``None``:
    all), one per start time unless ``distinct_times`` is off (staff choosing the technician see each)."""

    service_item_id: uuid.UUID | None
    duration_minutes: int
    window_start: datetime
    window_end: datetime
    preference: Preference | None = None
    limit: int | None = 10
    resource_id: uuid.UUID | None = None
    distinct_times: bool = True


@dataclass(frozen=True)
class Reschedule:
    """Move a booked appointment: to ``starts_at`` (same length unless ``ends_at``), optionally to another resource."""

    appointment_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None = None
    resource_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ResourceRecord:
    id: uuid.UUID
    name: str
    active: bool
    timezone: str
    buffer_minutes: int
    min_lead_minutes: int
    slot_step_minutes: int
    service_item_ids: tuple[uuid.UUID, ...]
    working_hours: tuple[Shift, ...]
    created_at: datetime | None


@dataclass(frozen=True)
class TimeOffRecord:
    id: uuid.UUID
    resource_id: uuid.UUID | None
    first_day: date
    last_day: date
    reason: str | None


@dataclass(frozen=True)
class CalendarRecord:
    id: uuid.UUID
    resource_id: uuid.UUID
    provider: str
    external_ref: str
    channel_id: str | None


@dataclass(frozen=True)
class DateHoursRecord:
    day: date
    starts_local: time
    ends_local: time


@dataclass(frozen=True)
class HoldRecord:
    id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    expires_at: datetime
    customer_phone: str | None
    conversation_id: uuid.UUID | None


@dataclass(frozen=True)
class AppointmentRecord:
    id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    customer_phone: str
    price_cents: int
    currency: str
    hold_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    created_at: datetime | None
    cancelled_at: datetime | None
    confirmed_at: datetime | None = None  # the caller replied to confirm


def _bounds(row: Hold | Appointment) -> tuple[datetime, datetime]:
    lower, upper = row.timeslot.lower, row.timeslot.upper
    if lower is None or upper is None:
        raise ValueError("an unbounded timeslot")
    return lower, upper


def slot_bounds(row: Hold | Appointment | HoldRecord | AppointmentRecord) -> tuple[datetime, datetime]:
    """(starts_at, ends_at) of a hold or appointment, row or record."""
    if isinstance(row, HoldRecord | AppointmentRecord):
        return row.starts_at, row.ends_at
    return _bounds(row)


def time_off_record(row: TimeOff) -> TimeOffRecord:
    return TimeOffRecord(row.id, row.resource_id, row.first_day, row.last_day, row.reason)


def calendar_record(row: ResourceCalendar) -> CalendarRecord:
    return CalendarRecord(row.id, row.resource_id, row.provider, row.external_ref, row.channel_id)


def hold_record(row: Hold) -> HoldRecord:
    starts_at, ends_at = _bounds(row)
    return HoldRecord(
        row.id,
        row.resource_id,
        row.service_item_id,
        starts_at,
        ends_at,
        row.status,
        row.expires_at,
        row.customer_phone,
        row.conversation_id,
    )


def appointment_record(row: Appointment) -> AppointmentRecord:
    starts_at, ends_at = _bounds(row)
    return AppointmentRecord(
        row.id,
        row.resource_id,
        row.service_item_id,
        starts_at,
        ends_at,
        row.status,
        row.customer_phone,
        row.price_cents,
        row.currency,
        row.hold_id,
        row.conversation_id,
        row.created_at,
        row.cancelled_at,
        row.confirmed_at,
    )
