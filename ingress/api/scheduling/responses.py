"""The JSON the /v1 scheduling resources answer with (``serializers`` writes it), as pydantic models for the OpenAPI
document; the integration tests validate real responses against them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.scheduling.availability import WEEKDAYS
from ingress.api.responses import Money, Response, one_of

LocalTime = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$", description="local wall time HH:MM")


class Shift(Response):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    weekday_name: str = one_of(WEEKDAYS)
    starts: str = LocalTime
    ends: str = LocalTime


class Resource(Response):
    id: uuid.UUID
    name: str
    active: bool
    timezone: str
    buffer_minutes: int
    min_lead_minutes: int
    slot_step_minutes: int
    service_item_ids: list[uuid.UUID] = Field(description="empty: the resource can do every service")
    working_hours: list[Shift]
    created_at: datetime | None


class ResourceList(Response):
    items: list[Resource]


class TimeOff(Response):
    id: uuid.UUID
    resource_id: uuid.UUID | None = Field(description="null: the whole business is closed")
    first_day: date
    last_day: date
    reason: str | None


class TimeOffList(Response):
    items: list[TimeOff]


class ResourceDetail(Resource):
    time_off: list[TimeOff]


class Slot(Response):
    resource_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class QuotedService(Response):
    id: uuid.UUID
    name: str
    duration_minutes: int
    price: Money


class PreferenceUsed(Response):
    after: str | None = LocalTime
    before: str | None = LocalTime
    weekdays: list[str] | None
    dates: list[date] | None


class Availability(Response):
    service_item: QuotedService
    from_: datetime = Field(alias="from")
    to: datetime
    preference: PreferenceUsed | None = Field(description="what the preference words and parameters were read as")
    slots: list[Slot]


class Hold(Response):
    id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: Literal["active", "confirmed", "released", "expired"]
    expires_at: datetime
    customer_phone: str | None
    conversation_id: uuid.UUID | None


class Appointment(Response):
    id: uuid.UUID
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: Literal["booked", "cancelled"]
    customer_phone: str
    price: Money
    hold_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    created_at: datetime | None
    cancelled_at: datetime | None


class AppointmentList(Response):
    items: list[Appointment]
