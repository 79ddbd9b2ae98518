"""Scheduling's subscriptions, declared beside the handlers. Dependencies arrive by keyword from the bootstrap."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from domain.events.catalog import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    CalendarChangeNotified,
)
from domain.events.envelope import utcnow
from domain.events.handling import HandlerContext, Subscriptions
from domain.scheduling.credentials import CredentialBox
from domain.scheduling.models import ResourceCalendar
from domain.scheduling.sync import BusySource, sync_calendar
from domain.scheduling.token_refresh import TokenRefresher
from domain.scheduling.write_back import CalendarWriter, write_back_appointment

subscriptions = Subscriptions("scheduling")


@subscriptions.on(CalendarChangeNotified)
def resync_calendar(event: CalendarChangeNotified, ctx: HandlerContext, *, calendars: BusySource) -> None:
    """A provider said a mirrored calendar changed: replace its shadow window now.

    A provider failure raises CalendarUnavailable, so the delivery is retried with backoff (and the periodic poll
    covers a provider that stays down).
    """
    tenant_id = ctx.tenant_id
    if tenant_id is None:
        return
    query = select(ResourceCalendar.id).where(
        ResourceCalendar.tenant_id == tenant_id, ResourceCalendar.provider == event.provider
    )
    if event.resource_calendar_id is not None:
        query = query.where(ResourceCalendar.id == event.resource_calendar_id)
    else:
        query = query.where(
            or_(
                ResourceCalendar.external_ref == event.external_ref,
                ResourceCalendar.external_ref.startswith(f"{event.external_ref}/", autoescape=True),
            )
        )
    now = utcnow()
    for calendar_id in ctx.session.scalars(query):
        sync_calendar(ctx.session, tenant_id=tenant_id, calendar_id=calendar_id, source=calendars, now=now, events=ctx)


# --- bookings written back to the resource's Google / Jobber calendars ---------------------------------------------


def _write_back(
    ctx: HandlerContext,
    appointment_id: object,
    writer: CalendarWriter,
    box: CredentialBox,
    refresher: TokenRefresher,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    assert isinstance(appointment_id, uuid.UUID)
    write_back_appointment(
        ctx.session,
        tenant_id=ctx.tenant_id,
        appointment_id=appointment_id,
        writer=writer,
        box=box,
        refresher=refresher,
        events=ctx,
        intents=sessions,
        title="Booked by text (NeverMissCall)",
        clock=clock,
    )


@subscriptions.on(AppointmentBooked)
def write_back_booking(
    event: AppointmentBooked,
    ctx: HandlerContext,
    *,
    calendar_writer: CalendarWriter,
    credential_box: CredentialBox,
    token_refresher: TokenRefresher,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
) -> None:
    """A booking goes on the resource's linked calendars (the reconcile reads the appointment as it is now)."""
    _write_back(ctx, event.appointment_id, calendar_writer, credential_box, token_refresher, sessions, clock)


@subscriptions.on(AppointmentRescheduled)
def write_back_reschedule(
    event: AppointmentRescheduled,
    ctx: HandlerContext,
    *,
    calendar_writer: CalendarWriter,
    credential_box: CredentialBox,
    token_refresher: TokenRefresher,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
) -> None:
    """A moved appointment's event is patched (or moved to the new technician's calendars)."""
    _write_back(ctx, event.appointment_id, calendar_writer, credential_box, token_refresher, sessions, clock)


@subscriptions.on(AppointmentCancelled)
def write_back_cancellation(
    event: AppointmentCancelled,
    ctx: HandlerContext,
    *,
    calendar_writer: CalendarWriter,
    credential_box: CredentialBox,
    token_refresher: TokenRefresher,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
) -> None:
    """A cancelled appointment's events are deleted."""
    _write_back(ctx, event.appointment_id, calendar_writer, credential_box, token_refresher, sessions, clock)
