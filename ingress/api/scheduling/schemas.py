"""The request bodies of /v1 scheduling (strict pydantic models; the OpenAPI document is built from them) and the
limits every scheduling request is held to."""

from __future__ import annotations

import functools
import itertools
import uuid
from datetime import date, time, timedelta
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from ingress.api.resources import Strict

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_WINDOW = timedelta(days=31)
DEFAULT_WINDOW = timedelta(days=7)
# How far from now a request may point: beyond it nothing is bookable, and datetime arithmetic near year 1 or 9999
# would overflow instead of answering.
HORIZON = timedelta(days=730)
MAX_TIME_OFF_DAYS = 366


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


# --- bodies ------------------------------------------------------------------------------------------------------


class ShiftBody(Strict):
    """One weekly shift in the resource's local time; weekday 0 = Monday … 6 = Sunday."""

    weekday: int = Field(ge=0, le=6)
    starts: time
    ends: time

    @field_validator("starts", "ends")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local wall time without an offset, e.g. 09:00")
        return value

    @field_validator("ends")
    @classmethod
    def _after_start(cls, value: time, info: Any) -> time:
        starts = info.data.get("starts")
        if starts is not None and value <= starts:
            raise ValueError("must be after starts")
        return value


def _no_overlap(shifts: list[ShiftBody]) -> list[ShiftBody]:
    ordered = sorted(shifts, key=lambda shift: (shift.weekday, shift.starts))
    for before, after in itertools.pairwise(ordered):
        if before.weekday == after.weekday and after.starts < before.ends:
            raise ValueError(f"shifts on weekday {after.weekday} overlap")
    return shifts


class ResourceBody(Strict):
    name: Name
    timezone: str = Field(max_length=64, description="IANA time zone the working hours are written in")
    buffer_minutes: int = Field(default=0, ge=0, le=240)
    min_lead_minutes: int = Field(default=60, ge=0, le=10080)
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    service_item_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    working_hours: list[ShiftBody] = Field(default_factory=list, max_length=100)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError("not an IANA time zone, e.g. America/Los_Angeles")
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: list[ShiftBody]) -> list[ShiftBody]:
        return _no_overlap(value)


class WorkingHoursBody(Strict):
    shifts: list[ShiftBody] = Field(max_length=100)

    @field_validator("shifts")
    @classmethod
    def _hours(cls, value: list[ShiftBody]) -> list[ShiftBody]:
        return _no_overlap(value)


class ResourceServicesBody(Strict):
    """Which service items the resource can do; an empty list makes it a generalist (it can do every service)."""

    service_item_ids: list[uuid.UUID] = Field(max_length=200)


class TimeOffBody(Strict):
    """Inclusive local dates; without ``resource_id`` the whole business is closed."""

    first_day: date
    last_day: date
    resource_id: uuid.UUID | None = None
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("last_day")
    @classmethod
    def _order(cls, value: date, info: Any) -> date:
        first = info.data.get("first_day")
        if first is not None:
            if value < first:
                raise ValueError("must not be before first_day")
            if (value - first).days >= MAX_TIME_OFF_DAYS:
                raise ValueError(f"at most {MAX_TIME_OFF_DAYS} days per entry")
        return value


class BookBody(Strict):
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: AwareDatetime
    customer_phone: E164
    conversation_id: uuid.UUID | None = None


class HoldBody(Strict):
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: AwareDatetime
    customer_phone: E164 | None = None
    conversation_id: uuid.UUID | None = None


class ConfirmBody(Strict):
    customer_phone: E164 | None = None


class CancelBody(Strict):
    reason: str = Field(default="cancelled by operator", min_length=1, max_length=500)


class ReleaseBody(Strict):
    reason: str = Field(default="released by operator", min_length=1, max_length=500)


class RescheduleBody(Strict):
    starts_at: AwareDatetime
    resource_id: uuid.UUID | None = None
