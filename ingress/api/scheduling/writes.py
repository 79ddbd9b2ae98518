"""Booking and rescheduling as the ingress offers them: the same checks and the same answers whether the request
came from ``/v1`` or from the staff app's bookings screen (which is why they are not inside either's resource)."""

from __future__ import annotations

import uuid
from datetime import datetime

import falcon
from sqlalchemy.orm import Session

from domain.catalog.service import ServiceItemNotFound
from domain.composition.bookings import BookingRequest, book_at_catalog_price
from domain.events.sink import EventSink
from domain.scheduling import service as scheduling
from domain.scheduling.errors import AppointmentNotBooked, AppointmentNotFound, SlotUnavailable
from domain.scheduling.records import AppointmentRecord, Reschedule
from ingress.api.scheduling.lookups import future_start, own_resource, requested_slot
from ingress.api.scheduling.schemas import BookBody
from ingress.api.scheduling.serializers import SlotConflict
from ingress.errors import ApiError


def book(session: Session, events: EventSink, tenant_id: uuid.UUID, new: BookBody, now: datetime) -> AppointmentRecord:
    """At the catalog's price ⇒ ``AppointmentBooked``; a refused slot raises ``SlotConflict`` (409, alternatives)."""
    item, starts_at, _ends_at = requested_slot(session, tenant_id, new, now)
    try:
        booked = book_at_catalog_price(
            session,
            BookingRequest(
                new.resource_id,
                item.service_item_id,
                starts_at,
                customer_phone=new.customer_phone,
                conversation_id=new.conversation_id,
            ),
            events=events,
            tenant_id=tenant_id,
            now=now,
        )
    except ServiceItemNotFound:  # retired since the request's checks read it
        raise ApiError(
            falcon.HTTP_404, "not_found", f"service item {new.service_item_id} not found (or not active)"
        ) from None
    except SlotUnavailable as error:
        raise SlotConflict(error) from None
    return booked.appointment


def reschedule(
    session: Session,
    events: EventSink,
    tenant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    *,
    starts_at: datetime,
    resource_id: uuid.UUID | None,
    now: datetime,
) -> AppointmentRecord:
    """⇒ ``AppointmentRescheduled``; 404 for an appointment not the tenant's, 409 when it is not booked or the new
    time cannot be had (with alternatives)."""
    start = future_start(starts_at, now, "starts_at")
    if resource_id is not None:
        own_resource(session, tenant_id, resource_id)
    try:
        return scheduling.reschedule_appointment(
            session,
            Reschedule(appointment_id, start, resource_id=resource_id),
            events=events,
            tenant_id=tenant_id,
            now=now,
        )
    except AppointmentNotFound as error:
        raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
    except AppointmentNotBooked as error:
        raise ApiError(falcon.HTTP_409, "not_booked", str(error)) from None
    except SlotUnavailable as error:
        raise SlotConflict(error) from None
