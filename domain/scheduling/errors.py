"""Typed scheduling failures: the conversation turns them into a reply, the API into a 409/404, never a 500."""

from __future__ import annotations

import uuid
from typing import Literal

from domain.scheduling.availability import Slot

UnavailableReason = Literal[
    "conflict",  # the database refused it: another appointment or hold overlaps
    "held",  # someone else's unexpired hold covers it
    "external_busy",  # the mirrored Google/Jobber/internal calendar is busy then
    "outside_hours",  # not inside the resource's working hours (or on a day off)
    "too_soon",  # earlier than now + the resource's minimum lead time
    "resource_unavailable",  # unknown or inactive resource, or it cannot do this service
]


class SchedulingError(Exception):
    """Base of every expected scheduling failure."""


class SlotUnavailable(SchedulingError):
    """The requested timeslot cannot be had; ``alternatives`` are open slots nearby (earliest first)."""

    def __init__(self, reason: UnavailableReason, alternatives: list[Slot] | None = None) -> None:
        super().__init__(f"slot unavailable: {reason}")
        self.reason: UnavailableReason = reason
        self.alternatives: list[Slot] = list(alternatives or [])


class HoldNotFound(SchedulingError):
    def __init__(self, hold_id: uuid.UUID) -> None:
        super().__init__(f"hold {hold_id} not found")
        self.hold_id = hold_id


class HoldNotExtendable(SchedulingError):
    """The hold is no longer active, has expired, or reached the extension cap."""

    def __init__(self, hold_id: uuid.UUID, reason: Literal["not_active", "expired", "cap_reached"]) -> None:
        super().__init__(f"hold {hold_id} cannot be extended: {reason}")
        self.hold_id = hold_id
        self.reason = reason


class AppointmentNotFound(SchedulingError):
    def __init__(self, appointment_id: uuid.UUID) -> None:
        super().__init__(f"appointment {appointment_id} not found")
        self.appointment_id = appointment_id


class AppointmentNotBooked(SchedulingError):
    """Rescheduling a cancelled appointment."""

    def __init__(self, appointment_id: uuid.UUID) -> None:
        super().__init__(f"appointment {appointment_id} is not booked")
        self.appointment_id = appointment_id


class CalendarNotFound(SchedulingError):
    def __init__(self, calendar_id: uuid.UUID) -> None:
        super().__init__(f"calendar {calendar_id} not found")
        self.calendar_id = calendar_id


class CalendarUnavailable(SchedulingError):
    """A calendar provider failed or rate-limited us; ``retry_after`` seconds when it said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
