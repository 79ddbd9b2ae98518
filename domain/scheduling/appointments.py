"""Appointments: booked from a hold or directly, cancelled, rescheduled; the caller's upcoming ones."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.orm import Session

from domain.events.catalog import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    HoldExpired,
    Money,
)
from domain.events.sink import EventSink
from domain.scheduling.errors import (
    AppointmentNotBooked,
    AppointmentNotFound,
)
from domain.scheduling.holds import hold_row
from domain.scheduling.models import (
    Appointment,
)
from domain.scheduling.records import AppointmentRecord, Reschedule, SlotRequest, appointment_record, slot_bounds
from domain.scheduling.writes import booking_attempt, check_bookable, lock_resource


def _insert_appointment(
    session: Session,
    request: SlotRequest,
    *,
    tenant_id: uuid.UUID,
    customer_phone: str,
    price_cents: int,
    currency: str,
    now: datetime,
    hold_id: uuid.UUID | None,
    sink: EventSink,
) -> Appointment:
    appointment = Appointment(
        tenant_id=tenant_id,
        resource_id=request.resource_id,
        service_item_id=request.service_item_id,
        timeslot=Range(request.starts_at, request.ends_at, bounds="[)"),
        status="booked",
        customer_phone=customer_phone,
        price_cents=price_cents,
        currency=currency,
        hold_id=hold_id,
        conversation_id=request.conversation_id,
        timeslot_set_at=now,
    )
    session.add(appointment)
    session.flush()  # the exclusion constraint speaks here
    sink.emit(
        AppointmentBooked(
            appointment_id=appointment.id,
            hold_id=hold_id,
            resource_id=request.resource_id,
            service_item_id=request.service_item_id,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            customer_phone=customer_phone,
            price=Money(amount_cents=price_cents, currency=currency),
            conversation_id=request.conversation_id,
        ),
        tenant_id=tenant_id,
        occurred_at=now,
    )
    return appointment


def confirm_hold(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    price_cents: int,
    currency: str,
    now: datetime,
    customer_phone: str | None = None,
    events: EventSink,
) -> AppointmentRecord:
    """Turn a hold into an appointment in one transaction ⇒ ``AppointmentBooked``.

    Idempotent: confirming an already-confirmed hold returns its appointment. A hold that lapsed can still be
    confirmed while nobody else has taken the slot; otherwise SlotUnavailable with alternatives.
    """
    sink = events
    hold = hold_row(session, tenant_id, hold_id)
    starts_at, ends_at = slot_bounds(hold)
    phone = customer_phone or hold.customer_phone
    if phone is None:
        raise ValueError("a customer phone is needed to book (the hold has none)")
    with booking_attempt(
        session,
        tenant_id=tenant_id,
        service_item_id=hold.service_item_id,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
    ):
        lock_resource(session, hold.resource_id)
        hold = hold_row(session, tenant_id, hold_id, lock=True)
        if hold.status == "confirmed":
            existing = session.scalars(
                select(Appointment).where(Appointment.hold_id == hold_id, Appointment.tenant_id == tenant_id)
            ).one_or_none()
            if existing is not None:
                return appointment_record(existing)
        if hold.status == "active" and hold.expires_at <= now:
            hold.status = "expired"
            sink.emit(
                HoldExpired(hold_id=hold.id, resource_id=hold.resource_id),
                tenant_id=tenant_id,
                occurred_at=now,
            )
        live = hold.status == "active"
        # A live hold was checked against hours and lead time when placed; a lapsed one is re-checked in full.
        check_bookable(
            session,
            sink=sink,
            tenant_id=tenant_id,
            resource_id=hold.resource_id,
            service_item_id=hold.service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
            enforce_hours=not live,
            skip_hold=hold.id,
        )
        if live:
            hold.status = "confirmed"
            session.flush()
        appointment = _insert_appointment(
            session,
            SlotRequest(hold.resource_id, hold.service_item_id, starts_at, ends_at, phone, hold.conversation_id),
            sink=sink,
            tenant_id=tenant_id,
            customer_phone=phone,
            price_cents=price_cents,
            currency=currency,
            now=now,
            hold_id=hold.id,
        )
    return appointment_record(appointment)


def book_slot(
    session: Session,
    request: SlotRequest,
    *,
    tenant_id: uuid.UUID,
    price_cents: int,
    currency: str,
    now: datetime,
    events: EventSink,
    enforce_hours: bool = True,
) -> AppointmentRecord:
    """Book without a prior hold ⇒ ``AppointmentBooked``; anyone else's unexpired hold on the slot blocks it."""
    if request.customer_phone is None:
        raise ValueError("a customer phone is needed to book")
    with booking_attempt(
        session,
        tenant_id=tenant_id,
        service_item_id=request.service_item_id,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        now=now,
    ):
        lock_resource(session, request.resource_id)
        check_bookable(
            session,
            sink=events,
            tenant_id=tenant_id,
            resource_id=request.resource_id,
            service_item_id=request.service_item_id,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            now=now,
            enforce_hours=enforce_hours,
        )
        appointment = _insert_appointment(
            session,
            request,
            sink=events,
            tenant_id=tenant_id,
            customer_phone=request.customer_phone,
            price_cents=price_cents,
            currency=currency,
            now=now,
            hold_id=None,
        )
    return appointment_record(appointment)


def _get_appointment(session: Session, tenant_id: uuid.UUID, appointment_id: uuid.UUID) -> Appointment:
    appointment = session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.tenant_id == tenant_id)
        .with_for_update()
    ).one_or_none()
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    return appointment


def cancel_appointment(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    reason: str,
    now: datetime,
    events: EventSink,
) -> AppointmentRecord:
    """Cancel ⇒ ``AppointmentCancelled``; cancelling twice changes nothing the second time."""
    sink = events
    with session.begin_nested():
        appointment = _get_appointment(session, tenant_id, appointment_id)
        if appointment.status == "booked":
            appointment.status = "cancelled"
            appointment.cancelled_at = now
            session.flush()
            sink.emit(
                AppointmentCancelled(appointment_id=appointment.id, reason=reason),
                tenant_id=tenant_id,
                occurred_at=now,
            )
    return appointment_record(appointment)


def reschedule_appointment(
    session: Session,
    move: Reschedule,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    events: EventSink,
    enforce_hours: bool = True,
) -> AppointmentRecord:
    """Move a booked appointment ⇒ ``AppointmentRescheduled``; SlotUnavailable with alternatives when the new time
    cannot be had."""
    sink = events
    appointment_id, starts_at = move.appointment_id, move.starts_at
    current = session.scalars(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.tenant_id == tenant_id)
    ).one_or_none()
    if current is None:
        raise AppointmentNotFound(appointment_id)
    old_start, old_end = slot_bounds(current)
    new_end = move.ends_at or starts_at + (old_end - old_start)
    target = move.resource_id or current.resource_id
    with booking_attempt(
        session,
        tenant_id=tenant_id,
        service_item_id=current.service_item_id,
        starts_at=starts_at,
        ends_at=new_end,
        now=now,
    ):
        lock_resource(session, target)
        appointment = _get_appointment(session, tenant_id, appointment_id)
        if appointment.status != "booked":
            raise AppointmentNotBooked(appointment_id)
        check_bookable(
            session,
            sink=sink,
            tenant_id=tenant_id,
            resource_id=target,
            service_item_id=appointment.service_item_id,
            starts_at=starts_at,
            ends_at=new_end,
            now=now,
            enforce_hours=enforce_hours,
            skip_appointment=appointment.id,
        )
        appointment.resource_id = target
        appointment.timeslot = Range(starts_at, new_end, bounds="[)")
        # Reminders are due relative to the new start, and only those whose moment comes after the move.
        appointment.timeslot_set_at = now
        appointment.confirmed_at = None
        session.flush()
        sink.emit(
            AppointmentRescheduled(
                appointment_id=appointment.id,
                resource_id=target,
                previous_starts_at=old_start,
                starts_at=starts_at,
                ends_at=new_end,
            ),
            tenant_id=tenant_id,
            occurred_at=now,
        )
    return appointment_record(appointment)


def upcoming_appointments(
    session: Session, *, tenant_id: uuid.UUID, customer_phone: str, now: datetime
) -> list[AppointmentRecord]:
    """The caller's booked appointments that have not ended yet, earliest first."""
    return [
        appointment_record(row)
        for row in session.scalars(
            select(Appointment)
            .where(
                Appointment.tenant_id == tenant_id,
                Appointment.customer_phone == customer_phone,
                Appointment.status == "booked",
                text("upper(sched_appointments.timeslot) > :now").bindparams(now=now),
            )
            .order_by(text("lower(sched_appointments.timeslot)"))
        )
    ]
