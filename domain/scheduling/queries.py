"""Read-side queries for the operator API: frozen records, never ORM rows, so nothing read here is written back by
accident. Every query names the tenant itself (row-level security is the second wall, not the only one)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.scheduling.availability import Shift
from domain.scheduling.models import Appointment, DateHours, Hold, Resource, ResourceService, TimeOff, WorkingHours
from domain.scheduling.records import (
    AppointmentRecord,
    DateHoursRecord,
    HoldRecord,
    ResourceRecord,
    TimeOffRecord,
    appointment_record,
    hold_record,
    time_off_record,
)


def resource_records(session: Session, *, tenant_id: uuid.UUID, rows: list[Resource]) -> list[ResourceRecord]:
    """Resources with their services and weekly hours, in two queries however many resources there are."""
    ids = [row.id for row in rows]
    services: dict[uuid.UUID, list[uuid.UUID]] = {rid: [] for rid in ids}
    hours: dict[uuid.UUID, list[Shift]] = {rid: [] for rid in ids}
    if ids:
        for resource_id, item_id in session.execute(
            select(ResourceService.resource_id, ResourceService.service_item_id)
            .where(ResourceService.tenant_id == tenant_id, ResourceService.resource_id.in_(ids))
            .order_by(ResourceService.service_item_id)
        ):
            services[resource_id].append(item_id)
        for shift in session.scalars(
            select(WorkingHours)
            .where(WorkingHours.tenant_id == tenant_id, WorkingHours.resource_id.in_(ids))
            .order_by(WorkingHours.weekday, WorkingHours.starts_local)
        ):
            hours[shift.resource_id].append(Shift(shift.weekday, shift.starts_local, shift.ends_local))
    return [
        ResourceRecord(
            row.id,
            row.name,
            row.active,
            row.timezone,
            row.buffer_minutes,
            row.min_lead_minutes,
            row.slot_step_minutes,
            tuple(services[row.id]),
            tuple(hours[row.id]),
            row.created_at,
        )
        for row in rows
    ]


def find_resource(session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> ResourceRecord | None:
    """The tenant's resource with its services and weekly hours, or None: another tenant's is not found."""
    row = session.scalars(
        select(Resource).where(Resource.id == resource_id, Resource.tenant_id == tenant_id)
    ).one_or_none()
    return resource_records(session, tenant_id=tenant_id, rows=[row])[0] if row is not None else None


def list_time_off(
    session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID | None, business_wide: bool
) -> list[TimeOffRecord]:
    """Days off by first day: one resource's (``business_wide`` adds the whole business's), or, without a
    resource, every entry."""
    query = select(TimeOff).where(TimeOff.tenant_id == tenant_id)
    if resource_id is not None:
        own = TimeOff.resource_id == resource_id
        query = query.where(own | TimeOff.resource_id.is_(None) if business_wide else own)
    return [time_off_record(row) for row in session.scalars(query.order_by(TimeOff.first_day, TimeOff.id))]


def list_date_hours(
    session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID, from_day: date
) -> list[DateHoursRecord]:
    """The resource's per-date hours from ``from_day`` on, by date and start."""
    rows = session.scalars(
        select(DateHours)
        .where(DateHours.tenant_id == tenant_id, DateHours.resource_id == resource_id, DateHours.day >= from_day)
        .order_by(DateHours.day, DateHours.starts_local)
    )
    return [DateHoursRecord(row.day, row.starts_local, row.ends_local) for row in rows]


def find_hold(session: Session, *, tenant_id: uuid.UUID, hold_id: uuid.UUID) -> HoldRecord | None:
    row = session.scalars(select(Hold).where(Hold.id == hold_id, Hold.tenant_id == tenant_id)).one_or_none()
    return hold_record(row) if row is not None else None


def active_hold_ids_for_conversation(
    session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[uuid.UUID]:
    """The conversation's active holds (one at most in practice: a caller who changes their mind frees the first)."""
    query = select(Hold.id).where(
        Hold.tenant_id == tenant_id, Hold.conversation_id == conversation_id, Hold.status == "active"
    )
    return list(session.scalars(query))


def find_appointment(session: Session, *, tenant_id: uuid.UUID, appointment_id: uuid.UUID) -> AppointmentRecord | None:
    row = session.scalars(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.tenant_id == tenant_id)
    ).one_or_none()
    return appointment_record(row) if row is not None else None


def list_appointments(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    status: str | None,
    customer_phone: str | None,
    ends_after: datetime | None,
    starts_before: datetime | None,
    limit: int,
) -> list[AppointmentRecord]:
    """Appointments by start time; the window keeps those overlapping it (ending after its start, starting before
    its end)."""
    query = select(Appointment).where(Appointment.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Appointment.status == status)
    if customer_phone is not None:
        query = query.where(Appointment.customer_phone == customer_phone)
    if ends_after is not None:
        query = query.where(text("upper(sched_appointments.timeslot) > :from_").bindparams(from_=ends_after))
    if starts_before is not None:
        query = query.where(text("lower(sched_appointments.timeslot) < :to_").bindparams(to_=starts_before))
    query = query.order_by(text("lower(sched_appointments.timeslot)"), Appointment.id).limit(limit)
    return [appointment_record(row) for row in session.scalars(query)]


def active_holds_for(session: Session, *, tenant_id: uuid.UUID, customer_phone: str) -> list[HoldRecord]:
    """The caller's holds still holding a slot (an expired one the sweep has not reached yet is left out)."""
    query = (
        select(Hold)
        .where(
            Hold.tenant_id == tenant_id,
            Hold.customer_phone == customer_phone,
            Hold.status == "active",
            Hold.expires_at > text("now()"),
        )
        .order_by(text("lower(sched_holds.timeslot)"), Hold.id)
    )
    return [hold_record(row) for row in session.scalars(query)]
