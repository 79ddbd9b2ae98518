"""The reports screen's one door into reporting: the same projections ``/v1/reports`` and ``nmc report`` read
(``domain.reporting.queries``), per day of the tenant's own time zone."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from domain.reporting import queries
from domain.reporting.queries import MAX_DAYS, DailyReport

__all__ = ["MAX_DAYS", "DailyReport", "report"]


def report(
    session: Session, tenant_id: uuid.UUID, *, first: date, last: date, timezone: str
) -> tuple[list[DailyReport], dict[str, Any]]:
    """One row per local day from ``first`` to ``last`` and the totals over them."""
    rows = queries.local_daily_report(session, tenant_id, first=first, last=last, timezone=timezone)
    return rows, queries.local_totals(session, tenant_id, rows, first=first, last=last, timezone=timezone)
