"""Resources and what they work: the services each can do, weekly hours, time off, calendars."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from domain.scheduling.availability import (
    Shift,
)
from domain.scheduling.models import (
    DateHours,
    Resource,
    ResourceCalendar,
    ResourceService,
    TimeOff,
    WorkingHours,
)
from domain.scheduling.queries import resource_records
from domain.scheduling.records import CalendarRecord, ResourceRecord, TimeOffRecord, calendar_record, time_off_record


def create_resource(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    name: str,
    timezone: str,
    buffer_minutes: int = 0,
    min_lead_minutes: int = 60,
    slot_step_minutes: int = 30,
    service_item_ids: Iterable[uuid.UUID] = (),
) -> ResourceRecord:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {timezone!r}") from None
    resource = Resource(
        tenant_id=tenant_id,
        name=name,
        timezone=timezone,
        buffer_minutes=buffer_minutes,
        min_lead_minutes=min_lead_minutes,
        slot_step_minutes=slot_step_minutes,
    )
    session.add(resource)
    session.flush()
    set_resource_services(session, tenant_id=tenant_id, resource_id=resource.id, service_item_ids=service_item_ids)
    return resource_records(session, tenant_id=tenant_id, rows=[resource])[0]


def set_resource_services(
    session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID, service_item_ids: Iterable[uuid.UUID]
) -> None:
    """Which services the resource can do. A resource with none listed is a generalist: it can do every service."""
    session.execute(
        delete(ResourceService).where(
            ResourceService.tenant_id == tenant_id, ResourceService.resource_id == resource_id
        )
    )
    rows = [
        {"tenant_id": tenant_id, "resource_id": resource_id, "service_item_id": item} for item in set(service_item_ids)
    ]
    if rows:
        session.execute(insert(ResourceService), rows)


def set_working_hours(
    session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID, shifts: Iterable[Shift]
) -> None:
    """Replace the resource's weekly hours (local time in its zone); several shifts a day make a split shift."""
    session.execute(
        delete(WorkingHours).where(WorkingHours.tenant_id == tenant_id, WorkingHours.resource_id == resource_id)
    )
    rows = [
        {
            "tenant_id": tenant_id,
            "resource_id": resource_id,
            "weekday": shift.weekday,
            "starts_local": shift.starts_local,
            "ends_local": shift.ends_local,
        }
        for shift in shifts
    ]
    if rows:
        session.execute(insert(WorkingHours), rows)


def add_time_off(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    first_day: date,
    last_day: date,
    resource_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> TimeOffRecord:
    """A day off or holiday (inclusive local dates); without ``resource_id`` the whole business is closed."""
    row = TimeOff(tenant_id=tenant_id, resource_id=resource_id, first_day=first_day, last_day=last_day, reason=reason)
    session.add(row)
    session.flush()
    return time_off_record(row)


def remove_time_off(session: Session, *, tenant_id: uuid.UUID, time_off_id: uuid.UUID) -> bool:
    """Take back a day off (entered by mistake, or the plans changed); False when the tenant has no such entry."""
    removed = session.execute(
        delete(TimeOff).where(TimeOff.tenant_id == tenant_id, TimeOff.id == time_off_id).returning(TimeOff.id)
    ).first()
    return removed is not None


def set_date_hours(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    day: date,
    shifts: Iterable[tuple[time, time]],
) -> None:
    """Replace the resource's hours on one local date (they replace its weekday's weekly hours that day); no shifts
    clears the override, so the weekly hours apply again. Closing a date is time off."""
    session.execute(
        delete(DateHours).where(
            DateHours.tenant_id == tenant_id, DateHours.resource_id == resource_id, DateHours.day == day
        )
    )
    rows = [
        {"tenant_id": tenant_id, "resource_id": resource_id, "day": day, "starts_local": start, "ends_local": end}
        for start, end in shifts
    ]
    if rows:
        session.execute(insert(DateHours), rows)


def add_calendar(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    provider: str,
    external_ref: str,
    channel_id: str | None = None,
    channel_token: str | None = None,
) -> CalendarRecord:
    calendar = ResourceCalendar(
        tenant_id=tenant_id,
        resource_id=resource_id,
        provider=provider,
        external_ref=external_ref,
        channel_id=channel_id,
        channel_token=channel_token,
    )
    session.add(calendar)
    session.flush()
    return calendar_record(calendar)


def list_resources(session: Session, *, tenant_id: uuid.UUID) -> list[ResourceRecord]:
    """The tenant's resources (active and not) by name, with their services and weekly hours."""
    rows = session.scalars(select(Resource).where(Resource.tenant_id == tenant_id).order_by(Resource.name, Resource.id))
    return resource_records(session, tenant_id=tenant_id, rows=list(rows))
