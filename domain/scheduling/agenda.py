"""What the resources' calendars hold over a window: booked appointments, unexpired active holds and the busy blocks
mirrored from external calendars, as frozen records in one round trip (the staff app's day and week views read it).

Everything overlapping the window is returned (an appointment from 23:30 to 00:30 belongs to both days); the window
is a UTC interval, so the caller decides what a "day" is (the tenant's local midnight to midnight).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

EntryKind = Literal["appointment", "hold", "busy"]


@dataclass(frozen=True)
class AgendaEntry:
    kind: EntryKind
    id: uuid.UUID
    resource_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    service_item_id: uuid.UUID | None  # None for external busy time
    customer_phone: str | None
    price_cents: int | None  # appointments only
    currency: str | None
    expires_at: datetime | None  # holds only
    all_day: bool  # external busy only


_AGENDA_SQL = text(
    """
    SELECT 'appointment', a.id, a.resource_id, lower(a.timeslot), upper(a.timeslot), a.service_item_id,
           a.customer_phone, a.price_cents, a.currency, NULL::timestamptz, false
      FROM sched_appointments AS a
     WHERE a.tenant_id = :tenant AND a.status = 'booked' AND a.timeslot && tstzrange(:ws, :we)
       AND (CAST(:only AS uuid[]) IS NULL OR a.resource_id = ANY(CAST(:only AS uuid[])))
    UNION ALL
    SELECT 'hold', h.id, h.resource_id, lower(h.timeslot), upper(h.timeslot), h.service_item_id,
           h.customer_phone, NULL, NULL, h.expires_at, false
      FROM sched_holds AS h
     WHERE h.tenant_id = :tenant AND h.status = 'active' AND h.expires_at > :now
       AND h.timeslot && tstzrange(:ws, :we)
       AND (CAST(:only AS uuid[]) IS NULL OR h.resource_id = ANY(CAST(:only AS uuid[])))
    UNION ALL
    SELECT 'busy', x.id, x.resource_id, lower(x.timeslot), upper(x.timeslot), NULL, NULL, NULL, NULL, NULL, x.all_day
      FROM sched_external_busy AS x
     WHERE x.tenant_id = :tenant AND x.timeslot && tstzrange(:ws, :we)
       AND (CAST(:only AS uuid[]) IS NULL OR x.resource_id = ANY(CAST(:only AS uuid[])))
     ORDER BY 4, 1, 2
    """
)


def agenda(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    resource_ids: list[uuid.UUID] | None = None,
) -> list[AgendaEntry]:
    """Appointments, holds and external busy blocks overlapping ``[window_start, window_end)``, by start time."""
    rows = session.execute(
        _AGENDA_SQL,
        {
            "tenant": tenant_id,
            "ws": window_start,
            "we": window_end,
            "now": now,
            "only": None if resource_ids is None else [str(rid) for rid in resource_ids],
        },
    )
    return [AgendaEntry(*row) for row in rows]
