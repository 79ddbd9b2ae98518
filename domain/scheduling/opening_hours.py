"""The business's opening hours as other modules may ask about them: open at a local time, and the weekly hours.

Both read the working hours of every resource together (the business is open when anyone works); the times are
the resources' local times, which the caller matches against the tenant's own clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import text
from sqlalchemy.orm import Session

_WORKING_AT = text(
    "SELECT 1 FROM sched_working_hours WHERE tenant_id = :tenant AND weekday = :weekday"
    " AND starts_local <= :at AND ends_local > :at LIMIT 1"
)
_WEEKLY_HOURS = text(
    "SELECT weekday, min(starts_local) AS opens, max(ends_local) AS closes FROM sched_working_hours"
    " WHERE tenant_id = :tenant GROUP BY weekday ORDER BY weekday"
)


@dataclass(frozen=True)
class DayHours:
    weekday: int  # 0 = Monday
    opens: time
    closes: time


def is_working_at(session: Session, *, tenant_id: uuid.UUID, local: datetime) -> bool:
    """Whether any resource's working hours cover the local wall-clock time ``local``."""
    found = session.execute(_WORKING_AT, {"tenant": tenant_id, "weekday": local.weekday(), "at": local.time()})
    return found.first() is not None


def weekly_hours(session: Session, *, tenant_id: uuid.UUID) -> tuple[DayHours, ...]:
    """Per weekday with any hours: the earliest opening and the latest closing, Monday first."""
    rows = session.execute(_WEEKLY_HOURS, {"tenant": tenant_id}).all()
    return tuple(DayHours(row.weekday, row.opens, row.closes) for row in rows)
