"""The write path every hold and booking takes: one writer per resource, the cross-table checks, and a savepoint
that turns any refusal (ours or, last, the EXCLUDE constraint) into SlotUnavailable with alternatives."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import psycopg.errors
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.events.catalog import (
    HoldExpired,
)
from domain.events.sink import EventSink
from domain.scheduling.availability import (
    Slot,
    within_working_hours,
)
from domain.scheduling.errors import (
    SlotUnavailable,
    UnavailableReason,
)
from domain.scheduling.models import (
    Hold,
    Resource,
)
from domain.scheduling.slots import alternatives_for, load_schedules

_CONFLICT_SQL = text(
    """
    SELECT 'conflict' FROM sched_appointments
     WHERE resource_id = :resource AND status = 'booked' AND timeslot && tstzrange(:ps, :pe)
       AND id IS DISTINCT FROM CAST(:skip_appointment AS uuid)
    UNION ALL
    SELECT 'held' FROM sched_holds
     WHERE resource_id = :resource AND status = 'active' AND expires_at > :now AND timeslot && tstzrange(:ps, :pe)
       AND id IS DISTINCT FROM CAST(:skip_hold AS uuid)
    UNION ALL
    SELECT 'external_busy' FROM sched_external_busy
     WHERE resource_id = :resource AND timeslot && tstzrange(:ps, :pe)
    LIMIT 1
    """
)


def lock_resource(session: Session, resource_id: uuid.UUID) -> None:
    # Serialises writers of one resource until the transaction ends, so the cross-table checks below see every
    # committed hold and appointment; the exclusion constraints still back the same-table cases.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"sched:{resource_id}"})


def _resource_for(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> Resource | None:
    return session.scalars(
        select(Resource).where(Resource.id == resource_id, Resource.tenant_id == tenant_id, Resource.active.is_(True))
    ).one_or_none()


def check_bookable(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    service_item_id: uuid.UUID | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    enforce_hours: bool = True,
    skip_hold: uuid.UUID | None = None,
    skip_appointment: uuid.UUID | None = None,
    sink: EventSink,
) -> None:
    """Raise SlotUnavailable (without alternatives) unless the resource may take ``[starts_at, ends_at)`` now.

    Overlapping holds that have expired but not yet been swept are retired first, so they never block.
    """
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    _expire_stale_holds(session, sink=sink, resource_id=resource_id, starts_at=starts_at, ends_at=ends_at, now=now)
    resource = _resource_for(session, tenant_id, resource_id)
    if resource is None:
        raise SlotUnavailable("resource_unavailable")
    if enforce_hours:
        schedules = load_schedules(
            session,
            tenant_id=tenant_id,
            service_item_id=service_item_id,
            window_start=starts_at,
            window_end=ends_at,
            now=now,
            resource_ids=[resource_id],
        )
        if not schedules:
            raise SlotUnavailable("resource_unavailable")
        if starts_at < now + timedelta(minutes=resource.min_lead_minutes):
            raise SlotUnavailable("too_soon")
        if not within_working_hours(Slot(resource_id, starts_at, ends_at), schedules[0]):
            raise SlotUnavailable("outside_hours")
    pad = timedelta(minutes=resource.buffer_minutes)
    found = session.execute(
        _CONFLICT_SQL,
        {
            "resource": resource_id,
            "ps": starts_at - pad,
            "pe": ends_at + pad,
            "now": now,
            "skip_hold": skip_hold,
            "skip_appointment": skip_appointment,
        },
    ).scalar_one_or_none()
    if found is not None:
        reason: UnavailableReason = found
        raise SlotUnavailable(reason)


def _expire_stale_holds(
    session: Session,
    *,
    resource_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    sink: EventSink,
) -> None:
    """An expired hold the sweeper has not reached yet must never block: retire the overlapping ones right here."""
    rows = session.execute(
        update(Hold)
        .where(
            Hold.resource_id == resource_id,
            Hold.status == "active",
            Hold.expires_at <= now,
            Hold.timeslot.overlaps(Range(starts_at, ends_at, bounds="[)")),
        )
        .values(status="expired")
        .returning(Hold.id, Hold.tenant_id, Hold.resource_id)
    ).all()
    for hold_id, hold_tenant, hold_resource in rows:
        sink.emit(HoldExpired(hold_id=hold_id, resource_id=hold_resource), tenant_id=hold_tenant, occurred_at=now)


def _is_exclusion(error: IntegrityError) -> bool:
    return isinstance(error.orig, psycopg.errors.ExclusionViolation)


def _unavailable(
    session: Session,
    error: SlotUnavailable,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> SlotUnavailable:
    minutes = max(1, int((ends_at - starts_at).total_seconds() // 60))
    error.alternatives = alternatives_for(
        session,
        tenant_id=tenant_id,
        service_item_id=service_item_id,
        duration_minutes=minutes,
        near=starts_at,
        now=now,
    )
    return error


@contextmanager
def booking_attempt(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> Iterator[None]:
    """A savepoint for one write to the schedule; whatever refuses it (our checks or, last, the EXCLUDE constraint)
    becomes SlotUnavailable with alternatives, and the caller's transaction stays usable."""
    try:
        with session.begin_nested():
            yield
    except SlotUnavailable as error:
        raise _unavailable(
            session,
            error,
            tenant_id=tenant_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
        ) from None
    except IntegrityError as error:
        if not _is_exclusion(error):
            raise
        raise _unavailable(
            session,
            SlotUnavailable("conflict"),
            tenant_id=tenant_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
        ) from None
