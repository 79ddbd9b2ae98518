"""Holds: a slot kept for a caller for the Hold TTL, extended, released, expired by the sweep."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.orm import Session

from domain.events.catalog import (
    HoldExpired,
    HoldExtended,
    HoldPlaced,
    HoldReleased,
)
from domain.events.sink import EventSink
from domain.scheduling.errors import (
    HoldNotExtendable,
    HoldNotFound,
)
from domain.scheduling.models import (
    Hold,
)
from domain.scheduling.records import HoldRecord, SlotRequest, hold_record
from domain.scheduling.sync import BusySource, refresh_stale_mirrors
from domain.scheduling.writes import booking_attempt, check_bookable, lock_resource


def place_hold(
    session: Session,
    request: SlotRequest,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    ttl_minutes: int,
    events: EventSink,
    calendars: BusySource | None = None,
    mirror_max_age_seconds: int | None = None,
) -> HoldRecord:
    """Hold a slot for ``ttl_minutes`` ⇒ ``HoldPlaced``; SlotUnavailable (with alternatives) when it cannot be had.

    With ``calendars``, the resource's external mirrors older than ``mirror_max_age_seconds`` are re-synced first.
    """
    sink = events
    resource_id, service_item_id = request.resource_id, request.service_item_id
    starts_at, ends_at = request.starts_at, request.ends_at
    if calendars is not None and mirror_max_age_seconds is not None:
        refresh_stale_mirrors(
            session,
            tenant_id=tenant_id,
            resource_id=resource_id,
            source=calendars,
            now=now,
            max_age_seconds=mirror_max_age_seconds,
            events=sink,
        )
    with booking_attempt(
        session, tenant_id=tenant_id, service_item_id=service_item_id, starts_at=starts_at, ends_at=ends_at, now=now
    ):
        lock_resource(session, resource_id)
        check_bookable(
            session,
            sink=sink,
            tenant_id=tenant_id,
            resource_id=resource_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
        )
        hold = Hold(
            tenant_id=tenant_id,
            resource_id=resource_id,
            service_item_id=service_item_id,
            timeslot=Range(starts_at, ends_at, bounds="[)"),
            status="active",
            expires_at=now + timedelta(minutes=ttl_minutes),
            extensions=0,
            conversation_id=request.conversation_id,
            customer_phone=request.customer_phone,
        )
        session.add(hold)
        session.flush()
        sink.emit(
            HoldPlaced(
                hold_id=hold.id,
                resource_id=resource_id,
                service_item_id=service_item_id,
                starts_at=starts_at,
                ends_at=ends_at,
                expires_at=hold.expires_at,
                conversation_id=request.conversation_id,
            ),
            tenant_id=tenant_id,
            occurred_at=now,
        )
    return hold_record(hold)


def hold_row(session: Session, tenant_id: uuid.UUID, hold_id: uuid.UUID, *, lock: bool = False) -> Hold:
    query = select(Hold).where(Hold.id == hold_id, Hold.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    hold = session.scalars(query).one_or_none()
    if hold is None:
        raise HoldNotFound(hold_id)
    return hold


def extend_hold(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    now: datetime,
    ttl_minutes: int,
    max_extensions: int,
    events: EventSink,
) -> HoldRecord:
    """Push an unexpired hold's expiry to ``now + ttl`` ⇒ ``HoldExtended``; at most ``max_extensions`` times."""
    sink = events
    with session.begin_nested():
        hold = hold_row(session, tenant_id, hold_id, lock=True)
        if hold.status != "active":
            raise HoldNotExtendable(hold_id, "not_active")
        if hold.expires_at <= now:
            raise HoldNotExtendable(hold_id, "expired")
        if hold.extensions >= max_extensions:
            raise HoldNotExtendable(hold_id, "cap_reached")
        hold.expires_at = max(hold.expires_at, now + timedelta(minutes=ttl_minutes))
        hold.extensions += 1
        session.flush()
        sink.emit(
            HoldExtended(
                hold_id=hold.id, resource_id=hold.resource_id, expires_at=hold.expires_at, extensions=hold.extensions
            ),
            tenant_id=tenant_id,
            occurred_at=now,
        )
    return hold_record(hold)


def release_hold(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    reason: str,
    now: datetime,
    events: EventSink,
) -> HoldRecord:
    """Give a hold up early ⇒ ``HoldReleased``; releasing a hold that is no longer active changes nothing."""
    sink = events
    with session.begin_nested():
        hold = hold_row(session, tenant_id, hold_id, lock=True)
        if hold.status == "active":
            hold.status = "released"
            session.flush()
            sink.emit(
                HoldReleased(hold_id=hold.id, resource_id=hold.resource_id, reason=reason),
                tenant_id=tenant_id,
                occurred_at=now,
            )
    return hold_record(hold)


def expire_holds(session: Session, now: datetime, *, limit: int = 1000, events: EventSink) -> int:
    """The periodic sweep: active holds past their TTL become ``expired`` ⇒ ``HoldExpired`` each."""
    sink = events
    due = (
        select(Hold.id)
        .where(Hold.status == "active", Hold.expires_at <= now)
        .order_by(Hold.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(Hold)
        .where(Hold.id.in_(due))
        .values(status="expired")
        .returning(Hold.id, Hold.tenant_id, Hold.resource_id)
    ).all()
    for hold_id, tenant_id, resource_id in rows:
        sink.emit(HoldExpired(hold_id=hold_id, resource_id=resource_id), tenant_id=tenant_id, occurred_at=now)
    return len(rows)
