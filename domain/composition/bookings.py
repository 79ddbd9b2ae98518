"""Booking at the catalog's price: the booking use cases that need both catalog and scheduling.

The conversation's booking tools and the API's ``POST /v1/holds/{id}/confirm`` confirm a hold through here, and
``POST /v1/appointments`` and the staff app's bookings screen book a slot directly through here, so an appointment
always carries the price (and a direct booking the length) the catalog gives the service when it is booked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from domain.events.sink import EventSink
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from domain.scheduling.errors import HoldNotFound
from domain.scheduling.records import AppointmentRecord, SlotRequest


@dataclass(frozen=True)
class Booked:
    appointment: AppointmentRecord
    service_name: str


@dataclass(frozen=True)
class BookingRequest:
    """A direct booking: a service on one resource from ``starts_at``, for as long as the catalog says it takes."""

    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: datetime
    customer_phone: str
    conversation_id: uuid.UUID | None = None


def confirm_hold_at_catalog_price(
    session: Session,
    *,
    events: EventSink,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    now: datetime,
    customer_phone: str | None = None,
) -> Booked:
    """⇒ ``AppointmentBooked`` at the held service's current price (an item since retired still has one).

    Raises HoldNotFound, catalog's ServiceItemNotFound, SlotUnavailable (with alternatives) or another
    SchedulingError; idempotent like ``scheduling.confirm_hold``.
    """
    hold = queries.find_hold(session, tenant_id=tenant_id, hold_id=hold_id)
    if hold is None:
        raise HoldNotFound(hold_id)
    item = catalog.get_service_item(
        session, tenant_id=tenant_id, service_item_id=hold.service_item_id, active_only=False
    )
    appointment = scheduling.confirm_hold(
        session,
        events=events,
        tenant_id=tenant_id,
        hold_id=hold_id,
        price_cents=item.price_cents,
        currency=item.currency,
        now=now,
        customer_phone=customer_phone,
    )
    return Booked(appointment, item.name)


def book_at_catalog_price(
    session: Session, request: BookingRequest, *, events: EventSink, tenant_id: uuid.UUID, now: datetime
) -> Booked:
    """⇒ ``AppointmentBooked`` for an active service's catalog length, at its catalog price.

    Raises catalog's ServiceItemNotFound (no such active item), SlotUnavailable (with alternatives) or another
    SchedulingError.
    """
    item = catalog.quote(session, tenant_id=tenant_id, service_item_id=request.service_item_id)
    appointment = scheduling.book_slot(
        session,
        SlotRequest(
            request.resource_id,
            item.service_item_id,
            request.starts_at,
            request.starts_at + timedelta(minutes=item.duration_minutes),
            customer_phone=request.customer_phone,
            conversation_id=request.conversation_id,
        ),
        events=events,
        tenant_id=tenant_id,
        price_cents=item.price_cents,
        currency=item.currency,
        now=now,
    )
    return Booked(appointment, item.name)
