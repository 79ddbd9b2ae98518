"""The bookings screen's one door into scheduling: every read and write it makes goes through here, to the same
domain functions and the same tenant-scoped lookups the ``/v1`` scheduling API uses (``ingress.api.scheduling``), so
the screen gives the API's guarantees (the database decides a conflict; a refused slot is a 409 with alternatives)
and re-wiring after a change of the domain's layout is this file alone.

Role rule, as in the API: OWNER and TECH both operate scheduling (view, book, cancel, reschedule). What a resource
is and when it works belongs to Settings (OWNER only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import falcon
from pydantic import ValidationError
from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from domain.events.sink import EventSink
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from domain.scheduling.agenda import AgendaEntry, agenda
from domain.scheduling.availability import Slot
from domain.scheduling.errors import AppointmentNotFound
from domain.scheduling.queries import AppointmentRecord, ResourceRecord
from ingress.api.scheduling import writes
from ingress.api.scheduling.lookups import active_quote, own_resource
from ingress.api.scheduling.schemas import BookBody
from ingress.errors import ApiError

MAX_SLOTS = 200  # a day of 5-minute steps for a few technicians


@dataclass(frozen=True)
class Service:
    id: uuid.UUID
    name: str
    duration_minutes: int
    price_cents: int
    currency: str
    active: bool


def resources(session: Session, tenant_id: uuid.UUID) -> list[ResourceRecord]:
    """The tenant's resources (active and not), by name, with their weekly hours."""
    return scheduling.list_resources(session, tenant_id=tenant_id)


def services(session: Session, tenant_id: uuid.UUID) -> list[Service]:
    """Every service item (inactive ones too: an old appointment still names its service)."""
    return [
        Service(item.id, item.name, item.duration_minutes, item.price_cents, item.currency, item.active)
        for item in catalog.list_service_items(session, tenant_id=tenant_id)
    ]


def calendar(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    resource_ids: list[uuid.UUID] | None,
) -> list[AgendaEntry]:
    return agenda(
        session,
        tenant_id=tenant_id,
        window_start=window_start,
        window_end=window_end,
        now=now,
        resource_ids=resource_ids,
    )


def quote(session: Session, tenant_id: uuid.UUID, service_item_id: uuid.UUID) -> catalog.Candidate:
    """An active service's catalog duration and price (another tenant's, or an inactive one, is a 404)."""
    return active_quote(session, tenant_id, service_item_id)


def resource(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> None:
    """404 unless the resource is the tenant's own."""
    own_resource(session, tenant_id, resource_id)


def open_slots(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    service_item_id: uuid.UUID,
    duration_minutes: int,
    resource_id: uuid.UUID | None,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot]:
    """Open slots over a window, every resource's (not one per start time: staff choose the technician)."""
    start = max(window_start, now)
    if window_end <= start:
        return []
    return scheduling.find_slots(
        session,
        scheduling.SlotSearch(
            service_item_id=service_item_id,
            duration_minutes=duration_minutes,
            window_start=start,
            window_end=window_end,
            limit=MAX_SLOTS,
            resource_id=resource_id,
            distinct_times=False,
        ),
        tenant_id=tenant_id,
        now=now,
    )


def find_appointment(session: Session, tenant_id: uuid.UUID, appointment_id: uuid.UUID) -> AppointmentRecord:
    row = queries.find_appointment(session, tenant_id=tenant_id, appointment_id=appointment_id)
    if row is None:
        raise ApiError(falcon.HTTP_404, "not_found", f"appointment {appointment_id} not found")
    return row


def book(
    session: Session,
    events: EventSink,
    tenant_id: uuid.UUID,
    *,
    resource_id: uuid.UUID,
    service_item_id: uuid.UUID,
    starts_at: datetime,
    customer_phone: str,
    now: datetime,
) -> AppointmentRecord:
    """``POST /v1/appointments``'s checks and use case: the catalog price, ⇒ ``AppointmentBooked``; a refused slot
    raises ``SlotConflict`` (out of the transaction, which rolls back)."""
    try:
        new = BookBody(
            resource_id=resource_id, service_item_id=service_item_id, starts_at=starts_at, customer_phone=customer_phone
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "form"
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{where}: {first['msg']}") from None
    return writes.book(session, events, tenant_id, new, now)


def cancel(
    session: Session, events: EventSink, tenant_id: uuid.UUID, *, appointment_id: uuid.UUID, reason: str, now: datetime
) -> AppointmentRecord:
    """⇒ ``AppointmentCancelled``; cancelling twice changes nothing."""
    try:
        row = scheduling.cancel_appointment(
            session, events=events, tenant_id=tenant_id, appointment_id=appointment_id, reason=reason, now=now
        )
    except AppointmentNotFound as error:
        raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
    return row


def reschedule(
    session: Session,
    events: EventSink,
    tenant_id: uuid.UUID,
    *,
    appointment_id: uuid.UUID,
    starts_at: datetime,
    resource_id: uuid.UUID | None,
    now: datetime,
) -> AppointmentRecord:
    """``POST /v1/appointments/{id}/reschedule``'s checks and use case ⇒ ``AppointmentRescheduled``, or
    ``SlotConflict`` with alternatives."""
    return writes.reschedule(
        session, events, tenant_id, appointment_id, starts_at=starts_at, resource_id=resource_id, now=now
    )
