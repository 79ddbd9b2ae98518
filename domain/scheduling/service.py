"""Scheduling use cases on a caller-owned ``Session``: resources and hours, availability, holds, appointments.

Every function takes ``tenant_id`` and ``now`` explicitly and appends its catalog event in the caller's transaction.
Double-booking is decided by Postgres: the GiST exclusion constraints on booked appointments and active holds are
the last word, and the cross-table rules (a hold blocks a booking, a booking blocks a hold, external busy blocks
both) are checked in SQL while a per-resource transaction advisory lock is held, so no two writers check at once.
Each write runs in a SAVEPOINT, so a refused slot never poisons the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg.errors
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.events.catalog import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    HoldExpired,
    HoldExtended,
    HoldPlaced,
    HoldReleased,
    Money,
)
from domain.events.sink import EventSink, sink_or_root
from domain.scheduling.availability import (
    DayShift,
    Interval,
    Preference,
    ResourceSchedule,
    Shift,
    Slot,
    compute_slots,
    within_working_hours,
)
from domain.scheduling.errors import (
    AppointmentNotBooked,
    AppointmentNotFound,
    HoldNotExtendable,
    HoldNotFound,
    SlotUnavailable,
    UnavailableReason,
)
from domain.scheduling.models import (
    Appointment,
    DateHours,
    Hold,
    Resource,
    ResourceCalendar,
    ResourceService,
    TimeOff,
    WorkingHours,
)
from domain.scheduling.sync import BusySource, refresh_stale_mirrors

ALTERNATIVES = 3
ALTERNATIVES_HORIZON = timedelta(days=7)
# Busy intervals just outside the window still matter once padded by a buffer (at most 240 minutes).
_BUSY_MARGIN = timedelta(minutes=240)


# --- resources, hours, time off ------------------------------------------------------------------------------


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
) -> Resource:
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
    return resource


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
) -> TimeOff:
    """A day off or holiday (inclusive local dates); without ``resource_id`` the whole business is closed."""
    row = TimeOff(tenant_id=tenant_id, resource_id=resource_id, first_day=first_day, last_day=last_day, reason=reason)
    session.add(row)
    session.flush()
    return row


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
) -> ResourceCalendar:
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
    return calendar


def list_resources(session: Session, *, tenant_id: uuid.UUID) -> list[Resource]:
    return list(
        session.scalars(select(Resource).where(Resource.tenant_id == tenant_id).order_by(Resource.name, Resource.id))
    )


# --- availability ----------------------------------------------------------------------------------------------


def load_schedules(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID | None,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    resource_ids: Sequence[uuid.UUID] | None = None,
) -> list[ResourceSchedule]:
    """The facts availability needs - suitable resources, their hours, time off and every busy interval - in one
    round trip (this is the hot path of every availability question)."""
    driver = session.connection().connection.dbapi_connection
    if driver is None:
        raise RuntimeError("the session has no live connection")
    cursor = driver.cursor()
    try:
        cursor.execute(
            _SCHEDULES_SQL,
            {
                "tenant": tenant_id,
                "only": None if resource_ids is None else list(resource_ids),
                "service": service_item_id,
                # Busy intervals just outside the window still matter once padded by a buffer.
                "ws": window_start - _BUSY_MARGIN,
                "we": window_end + _BUSY_MARGIN,
                # Local dates can sit a day either side of the UTC window.
                "first_day": (window_start - timedelta(days=1)).date(),
                "last_day": (window_end + timedelta(days=1)).date(),
                "now": now,
            },
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()

    resources: dict[uuid.UUID, tuple[Any, ...]] = {}
    shifts: dict[uuid.UUID, list[Shift]] = {}
    closed: dict[uuid.UUID | None, set[date]] = {None: set()}
    busy: dict[uuid.UUID, list[Interval]] = {}
    dated: dict[uuid.UUID, list[DayShift]] = {}
    for kind, resource_id, name, zone, buffer, lead, step, weekday, starts, ends, first, last, lower, upper in rows:
        if kind == "r":
            resources[resource_id] = (name, zone, buffer, lead, step)
        elif kind == "h":
            shifts.setdefault(resource_id, []).append(Shift(weekday, starts, ends))
        elif kind == "d":
            dated.setdefault(resource_id, []).append(DayShift(first, starts, ends))
        elif kind == "o":
            days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
            closed.setdefault(resource_id, set()).update(days)
        else:
            busy.setdefault(resource_id, []).append(Interval(lower, upper))
    ordered = sorted(resources.items(), key=lambda item: (item[1][0], str(item[0])))
    return [
        ResourceSchedule(
            resource_id=resource_id,
            timezone=str(timezone),
            shifts=tuple(shifts.get(resource_id, ())),
            busy=tuple(busy.get(resource_id, ())),
            days_off=frozenset(closed.get(resource_id, set()) | closed[None]),
            buffer_minutes=buffer_minutes,
            min_lead_minutes=lead,
            slot_step_minutes=step,
            date_shifts=tuple(dated.get(resource_id, ())),
        )
        for resource_id, (_name, timezone, buffer_minutes, lead, step) in ordered
    ]


# One row per fact, told apart by `kind`: r = resource, h = working hours, d = per-date hours, o = time off,
# b = busy interval.
# A resource with no listed services can do every service.
_SCHEDULES_SQL = """
WITH res AS (
    SELECT r.id, r.name, r.timezone, r.buffer_minutes, r.min_lead_minutes, r.slot_step_minutes
      FROM sched_resources AS r
     WHERE r.tenant_id = %(tenant)s AND r.active
       AND (%(only)s::uuid[] IS NULL OR r.id = ANY(%(only)s::uuid[]))
       AND (%(service)s::uuid IS NULL
            OR EXISTS (SELECT 1 FROM sched_resource_services AS s
                        WHERE s.resource_id = r.id AND s.service_item_id = %(service)s::uuid)
            OR NOT EXISTS (SELECT 1 FROM sched_resource_services AS s WHERE s.resource_id = r.id))
)
SELECT 'r', id, name::text, timezone::text, buffer_minutes::int, min_lead_minutes::int, slot_step_minutes::int,
       NULL::int, NULL::time, NULL::time, NULL::date, NULL::date, NULL::timestamptz, NULL::timestamptz
  FROM res
UNION ALL
SELECT 'h', w.resource_id, NULL, NULL, NULL, NULL, NULL, w.weekday::int, w.starts_local, w.ends_local,
       NULL, NULL, NULL, NULL
  FROM sched_working_hours AS w JOIN res ON res.id = w.resource_id
 WHERE w.tenant_id = %(tenant)s
UNION ALL
SELECT 'd', d.resource_id, NULL, NULL, NULL, NULL, NULL, NULL, d.starts_local, d.ends_local, d.day, NULL, NULL,
       NULL
  FROM sched_date_hours AS d JOIN res ON res.id = d.resource_id
 WHERE d.tenant_id = %(tenant)s AND d.day BETWEEN %(first_day)s AND %(last_day)s
UNION ALL
SELECT 'o', t.resource_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, t.first_day, t.last_day, NULL, NULL
  FROM sched_time_off AS t
 WHERE t.tenant_id = %(tenant)s AND (t.resource_id IS NULL OR t.resource_id IN (SELECT id FROM res))
   AND t.first_day <= %(last_day)s AND t.last_day >= %(first_day)s
UNION ALL
SELECT 'b', x.resource_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, lower(x.timeslot),
       upper(x.timeslot)
  FROM sched_appointments AS x
 WHERE x.tenant_id = %(tenant)s AND x.resource_id IN (SELECT id FROM res) AND x.status = 'booked'
   AND x.timeslot && tstzrange(%(ws)s, %(we)s)
UNION ALL
SELECT 'b', x.resource_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, lower(x.timeslot),
       upper(x.timeslot)
  FROM sched_holds AS x
 WHERE x.tenant_id = %(tenant)s AND x.resource_id IN (SELECT id FROM res) AND x.status = 'active'
   AND x.expires_at > %(now)s AND x.timeslot && tstzrange(%(ws)s, %(we)s)
UNION ALL
SELECT 'b', x.resource_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, lower(x.timeslot),
       upper(x.timeslot)
  FROM sched_external_busy AS x
 WHERE x.tenant_id = %(tenant)s AND x.resource_id IN (SELECT id FROM res)
   AND x.timeslot && tstzrange(%(ws)s, %(we)s)
"""


def find_slots(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID | None,
    duration_minutes: int,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    preference: Preference | None = None,
    limit: int | None = 10,
    resource_id: uuid.UUID | None = None,
    distinct_times: bool = True,
) -> list[Slot]:
    """Open slots for a service over a window across the resources that can do it, earliest first.

    working hours (local, DST-correct) minus booked appointments, unexpired active holds and external busy, each padded
    by the resource's buffer, never earlier than now + its minimum lead time.
    """
    schedules = load_schedules(
        session,
        tenant_id=tenant_id,
        service_item_id=service_item_id,
        window_start=window_start,
        window_end=window_end,
        now=now,
        resource_ids=None if resource_id is None else [resource_id],
    )
    return compute_slots(
        schedules,
        duration_minutes=duration_minutes,
        window_start=window_start,
        window_end=window_end,
        now=now,
        preference=preference,
        limit=limit,
        distinct_times=distinct_times,
    )


def alternatives_for(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID | None,
    duration_minutes: int,
    near: datetime,
    now: datetime,
    count: int = ALTERNATIVES,
) -> list[Slot]:
    """Open slots closest to the wanted time (any resource that can do the service), returned earliest first."""
    window_start = max(now, near - timedelta(days=1))
    slots = find_slots(
        session,
        tenant_id=tenant_id,
        service_item_id=service_item_id,
        duration_minutes=duration_minutes,
        window_start=window_start,
        window_end=near + ALTERNATIVES_HORIZON,
        now=now,
        limit=None,
    )
    closest = sorted(slots, key=lambda slot: abs((slot.starts_at - near).total_seconds()))[:count]
    return sorted(closest, key=lambda slot: slot.starts_at)


# --- the write path ----------------------------------------------------------------------------------------------

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


def _lock_resource(session: Session, resource_id: uuid.UUID) -> None:
    # Serialises writers of one resource until the transaction ends, so the cross-table checks below see every
    # committed hold and appointment; the exclusion constraints still back the same-table cases.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"sched:{resource_id}"})


def _resource_for(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> Resource | None:
    return session.scalars(
        select(Resource).where(Resource.id == resource_id, Resource.tenant_id == tenant_id, Resource.active.is_(True))
    ).one_or_none()


def _check_bookable(
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
def _booking_attempt(
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


def place_hold(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    service_item_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    ttl_minutes: int,
    conversation_id: uuid.UUID | None = None,
    customer_phone: str | None = None,
    calendars: BusySource | None = None,
    mirror_max_age_seconds: int | None = None,
    events: EventSink | None = None,
) -> Hold:
    """Hold a slot for ``ttl_minutes`` ⇒ ``HoldPlaced``; SlotUnavailable (with alternatives) when it cannot be had.

    With ``calendars``, the resource's external mirrors older than ``mirror_max_age_seconds`` are re-synced first.
    """
    sink = sink_or_root(session, events)
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
    with _booking_attempt(
        session, tenant_id=tenant_id, service_item_id=service_item_id, starts_at=starts_at, ends_at=ends_at, now=now
    ):
        _lock_resource(session, resource_id)
        _check_bookable(
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
            conversation_id=conversation_id,
            customer_phone=customer_phone,
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
                conversation_id=conversation_id,
            ),
            tenant_id=tenant_id,
            occurred_at=now,
        )
    return hold


def _get_hold(session: Session, tenant_id: uuid.UUID, hold_id: uuid.UUID, *, lock: bool = False) -> Hold:
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
    events: EventSink | None = None,
) -> Hold:
    """Push an unexpired hold's expiry to ``now + ttl`` ⇒ ``HoldExtended``; at most ``max_extensions`` times."""
    sink = sink_or_root(session, events)
    with session.begin_nested():
        hold = _get_hold(session, tenant_id, hold_id, lock=True)
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
    return hold


def release_hold(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    reason: str,
    now: datetime,
    events: EventSink | None = None,
) -> Hold:
    """Give a hold up early ⇒ ``HoldReleased``; releasing a hold that is no longer active changes nothing."""
    sink = sink_or_root(session, events)
    with session.begin_nested():
        hold = _get_hold(session, tenant_id, hold_id, lock=True)
        if hold.status == "active":
            hold.status = "released"
            session.flush()
            sink.emit(
                HoldReleased(hold_id=hold.id, resource_id=hold.resource_id, reason=reason),
                tenant_id=tenant_id,
                occurred_at=now,
            )
    return hold


def expire_holds(session: Session, now: datetime, *, limit: int = 1000, events: EventSink | None = None) -> int:
    """The periodic sweep: active holds past their TTL become ``expired`` ⇒ ``HoldExpired`` each."""
    sink = sink_or_root(session, events)
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


def _insert_appointment(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    service_item_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    customer_phone: str,
    price_cents: int,
    currency: str,
    now: datetime,
    hold_id: uuid.UUID | None,
    conversation_id: uuid.UUID | None,
    sink: EventSink,
) -> Appointment:
    appointment = Appointment(
        tenant_id=tenant_id,
        resource_id=resource_id,
        service_item_id=service_item_id,
        timeslot=Range(starts_at, ends_at, bounds="[)"),
        status="booked",
        customer_phone=customer_phone,
        price_cents=price_cents,
        currency=currency,
        hold_id=hold_id,
        conversation_id=conversation_id,
    )
    session.add(appointment)
    session.flush()  # the exclusion constraint speaks here
    sink.emit(
        AppointmentBooked(
            appointment_id=appointment.id,
            hold_id=hold_id,
            resource_id=resource_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            customer_phone=customer_phone,
            price=Money(amount_cents=price_cents, currency=currency),
            conversation_id=conversation_id,
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
    events: EventSink | None = None,
) -> Appointment:
    """Turn a hold into an appointment in one transaction ⇒ ``AppointmentBooked``.

    Idempotent: confirming an already-confirmed hold returns its appointment. A hold that lapsed can still be
    confirmed while nobody else has taken the slot; otherwise SlotUnavailable with alternatives.
    """
    sink = sink_or_root(session, events)
    hold = _get_hold(session, tenant_id, hold_id)
    starts_at, ends_at = slot_bounds(hold)
    phone = customer_phone or hold.customer_phone
    if phone is None:
        raise ValueError("a customer phone is needed to book (the hold has none)")
    with _booking_attempt(
        session,
        tenant_id=tenant_id,
        service_item_id=hold.service_item_id,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
    ):
        _lock_resource(session, hold.resource_id)
        hold = _get_hold(session, tenant_id, hold_id, lock=True)
        if hold.status == "confirmed":
            existing = session.scalars(
                select(Appointment).where(Appointment.hold_id == hold_id, Appointment.tenant_id == tenant_id)
            ).one_or_none()
            if existing is not None:
                return existing
        if hold.status == "active" and hold.expires_at <= now:
            hold.status = "expired"
            sink.emit(
                HoldExpired(hold_id=hold.id, resource_id=hold.resource_id),
                tenant_id=tenant_id,
                occurred_at=now,
            )
        live = hold.status == "active"
        # A live hold was checked against hours and lead time when placed; a lapsed one is re-checked in full.
        _check_bookable(
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
            sink=sink,
            tenant_id=tenant_id,
            resource_id=hold.resource_id,
            service_item_id=hold.service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            customer_phone=phone,
            price_cents=price_cents,
            currency=currency,
            now=now,
            hold_id=hold.id,
            conversation_id=hold.conversation_id,
        )
    return appointment


def book_slot(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    service_item_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    customer_phone: str,
    price_cents: int,
    currency: str,
    now: datetime,
    conversation_id: uuid.UUID | None = None,
    enforce_hours: bool = True,
    events: EventSink | None = None,
) -> Appointment:
    """Book without a prior hold ⇒ ``AppointmentBooked``; anyone else's unexpired hold on the slot blocks it."""
    sink = sink_or_root(session, events)
    with _booking_attempt(
        session, tenant_id=tenant_id, service_item_id=service_item_id, starts_at=starts_at, ends_at=ends_at, now=now
    ):
        _lock_resource(session, resource_id)
        _check_bookable(
            session,
            sink=sink,
            tenant_id=tenant_id,
            resource_id=resource_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
            enforce_hours=enforce_hours,
        )
        appointment = _insert_appointment(
            session,
            sink=sink,
            tenant_id=tenant_id,
            resource_id=resource_id,
            service_item_id=service_item_id,
            starts_at=starts_at,
            ends_at=ends_at,
            customer_phone=customer_phone,
            price_cents=price_cents,
            currency=currency,
            now=now,
            hold_id=None,
            conversation_id=conversation_id,
        )
    return appointment


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
    events: EventSink | None = None,
) -> Appointment:
    """Cancel ⇒ ``AppointmentCancelled``; cancelling twice changes nothing the second time."""
    sink = sink_or_root(session, events)
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
    return appointment


def reschedule_appointment(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
    ends_at: datetime | None = None,
    resource_id: uuid.UUID | None = None,
    enforce_hours: bool = True,
    events: EventSink | None = None,
) -> Appointment:
    """Move a booked appointment (same length unless ``ends_at``; optionally to another resource).

    ⇒ ``AppointmentRescheduled``; SlotUnavailable with alternatives when the new time cannot be had.
    """
    sink = sink_or_root(session, events)
    current = session.scalars(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.tenant_id == tenant_id)
    ).one_or_none()
    if current is None:
        raise AppointmentNotFound(appointment_id)
    old_start, old_end = slot_bounds(current)
    new_end = ends_at or starts_at + (old_end - old_start)
    target = resource_id or current.resource_id
    with _booking_attempt(
        session,
        tenant_id=tenant_id,
        service_item_id=current.service_item_id,
        starts_at=starts_at,
        ends_at=new_end,
        now=now,
    ):
        _lock_resource(session, target)
        appointment = _get_appointment(session, tenant_id, appointment_id)
        if appointment.status != "booked":
            raise AppointmentNotBooked(appointment_id)
        _check_bookable(
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
    return appointment


def upcoming_appointments(
    session: Session, *, tenant_id: uuid.UUID, customer_phone: str, now: datetime
) -> list[Appointment]:
    """The caller's booked appointments that have not ended yet, earliest first."""
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.tenant_id == tenant_id,
                Appointment.customer_phone == customer_phone,
                Appointment.status == "booked",
                text("upper(sched_appointments.timeslot) > :now").bindparams(now=now),
            )
            .order_by(text("lower(sched_appointments.timeslot)"))
        )
    )


def slot_bounds(row: Hold | Appointment) -> tuple[datetime, datetime]:
    """(starts_at, ends_at) of a hold or appointment."""
    lower, upper = row.timeslot.lower, row.timeslot.upper
    if lower is None or upper is None:
        raise ValueError("an unbounded timeslot")
    return lower, upper


def as_dict(slot: Slot) -> dict[str, Any]:
    return {
        "resource_id": str(slot.resource_id),
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
    }


__all__ = [
    "add_calendar",
    "add_time_off",
    "alternatives_for",
    "book_slot",
    "cancel_appointment",
    "confirm_hold",
    "create_resource",
    "expire_holds",
    "extend_hold",
    "find_slots",
    "list_resources",
    "load_schedules",
    "place_hold",
    "release_hold",
    "reschedule_appointment",
    "set_resource_services",
    "set_working_hours",
    "slot_bounds",
    "upcoming_appointments",
]
