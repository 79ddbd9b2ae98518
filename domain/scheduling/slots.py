"""Slot search: the facts availability needs, read in one round trip, and the open slots they leave."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from domain.scheduling.availability import (
    DayShift,
    Interval,
    ResourceSchedule,
    Shift,
    Slot,
    compute_slots,
)
from domain.scheduling.records import SlotSearch

ALTERNATIVES = 3
ALTERNATIVES_HORIZON = timedelta(days=7)
# Busy intervals just outside the window still matter once padded by a buffer (at most 240 minutes).
_BUSY_MARGIN = timedelta(minutes=240)


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


def find_slots(session: Session, search: SlotSearch, *, tenant_id: uuid.UUID, now: datetime) -> list[Slot]:
    """Open slots for a service over a window across the resources that can do it, earliest first.

    working hours (local, DST-correct) minus booked appointments, unexpired active holds and external busy, each padded
    by the resource's buffer, never earlier than now + its minimum lead time.
    """
    schedules = load_schedules(
        session,
        tenant_id=tenant_id,
        service_item_id=search.service_item_id,
        window_start=search.window_start,
        window_end=search.window_end,
        now=now,
        resource_ids=None if search.resource_id is None else [search.resource_id],
    )
    return compute_slots(
        schedules,
        duration_minutes=search.duration_minutes,
        window_start=search.window_start,
        window_end=search.window_end,
        now=now,
        preference=search.preference,
        limit=search.limit,
        distinct_times=search.distinct_times,
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
        SlotSearch(
            service_item_id=service_item_id,
            duration_minutes=duration_minutes,
            window_start=window_start,
            window_end=near + ALTERNATIVES_HORIZON,
            limit=None,
        ),
        tenant_id=tenant_id,
        now=now,
    )
    closest = sorted(slots, key=lambda slot: abs((slot.starts_at - near).total_seconds()))[:count]
    return sorted(closest, key=lambda slot: slot.starts_at)


def as_dict(slot: Slot) -> dict[str, Any]:
    return {
        "resource_id": str(slot.resource_id),
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
    }
