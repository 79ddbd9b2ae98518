"""Reading the projections: the per-day report served by ``/v1/reports`` and printed by ``nmc report``."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

MAX_DAYS = 400


@dataclass(frozen=True)
class DailyReport:
    day: date
    missed_calls: int
    conversations: int
    first_responses: int
    first_response_p50_ms: float | None
    first_response_p95_ms: float | None
    bookings: int
    recovered_revenue_cents: int
    opt_outs: int
    takeovers: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        return data


_REPORT = """
WITH days AS (
    SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day')::date AS day
), latency AS (
    SELECT day, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
      FROM rep_first_responses
     WHERE tenant_id = :tenant AND day BETWEEN CAST(:first AS date) AND CAST(:last AS date)
     GROUP BY day
)
SELECT days.day,
       coalesce(s.missed_calls, 0), coalesce(s.conversations, 0), coalesce(latency.n, 0), latency.p50, latency.p95,
       coalesce(s.bookings, 0), coalesce(s.recovered_revenue_cents, 0), coalesce(s.opt_outs, 0),
       coalesce(s.takeovers, 0)
  FROM days
  LEFT JOIN rep_daily_tenant_stats s ON s.tenant_id = :tenant AND s.day = days.day
  LEFT JOIN latency ON latency.day = days.day
 ORDER BY days.day
"""


def daily_report(session: Session, tenant_id: uuid.UUID, days: int, *, today: date | None = None) -> list[DailyReport]:
    """The last ``days`` UTC days up to and including ``today``, one row per day (zeros where nothing happened)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    rows = session.execute(text(_REPORT), {"tenant": tenant_id, "first": first, "last": last}).all()
    return [
        DailyReport(
            day=row[0],
            missed_calls=int(row[1]),
            conversations=int(row[2]),
            first_responses=int(row[3]),
            first_response_p50_ms=None if row[4] is None else round(float(row[4]), 1),
            first_response_p95_ms=None if row[5] is None else round(float(row[5]), 1),
            bookings=int(row[6]),
            recovered_revenue_cents=int(row[7]),
            opt_outs=int(row[8]),
            takeovers=int(row[9]),
        )
        for row in rows
    ]


def totals(session: Session, tenant_id: uuid.UUID, days: int, *, today: date | None = None) -> dict[str, Any]:
    """The same window summed, with P50/P95 over every sample in it (not an average of daily percentiles)."""
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    counts = session.execute(
        text(
            """SELECT coalesce(sum(missed_calls), 0), coalesce(sum(conversations), 0), coalesce(sum(bookings), 0),
                      coalesce(sum(recovered_revenue_cents), 0), coalesce(sum(opt_outs), 0),
                      coalesce(sum(takeovers), 0)
                 FROM rep_daily_tenant_stats WHERE tenant_id = :tenant AND day BETWEEN :first AND :last"""
        ),
        {"tenant": tenant_id, "first": first, "last": last},
    ).one()
    latency = session.execute(
        text(
            """SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
                 FROM rep_first_responses WHERE tenant_id = :tenant AND day BETWEEN :first AND :last"""
        ),
        {"tenant": tenant_id, "first": first, "last": last},
    ).one()
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "missed_calls": int(counts[0]),
        "conversations": int(counts[1]),
        "bookings": int(counts[2]),
        "recovered_revenue_cents": int(counts[3]),
        "opt_outs": int(counts[4]),
        "takeovers": int(counts[5]),
        "first_responses": int(latency[0]),
        "first_response_p50_ms": None if latency[1] is None else round(float(latency[1]), 1),
        "first_response_p95_ms": None if latency[2] is None else round(float(latency[2]), 1),
    }


# --- per local day: the tenant's own time zone ---------------------------------------------------------------------
# A local day is an exact sum of quarter hours (every zone's offset is a whole number of them). A first-response
# sample counts on the local day it was queued; one recorded before that instant was kept counts on its UTC day.

_SAMPLE_LOCAL_DAY = (
    "(coalesce(occurred_at, (day + time '12:00') AT TIME ZONE 'UTC') AT TIME ZONE CAST(:zone AS text))::date"
)

_LOCAL_REPORT = f"""
WITH days AS (
    SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day')::date AS day
), counts AS (
    SELECT (starts_at AT TIME ZONE CAST(:zone AS text))::date AS day,
           sum(missed_calls) AS missed_calls, sum(conversations) AS conversations, sum(bookings) AS bookings,
           sum(recovered_revenue_cents) AS revenue, sum(opt_outs) AS opt_outs, sum(takeovers) AS takeovers
      FROM rep_quarter_hour_tenant_stats
     WHERE tenant_id = :tenant
       AND starts_at >= CAST(:first AS date)::timestamp AT TIME ZONE CAST(:zone AS text)
       AND starts_at < (CAST(:last AS date) + 1)::timestamp AT TIME ZONE CAST(:zone AS text)
     GROUP BY 1
), latency AS (
    SELECT {_SAMPLE_LOCAL_DAY} AS day, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
      FROM rep_first_responses
     WHERE tenant_id = :tenant AND day BETWEEN CAST(:first AS date) - 1 AND CAST(:last AS date) + 1
     GROUP BY 1
)
SELECT days.day,
       coalesce(c.missed_calls, 0), coalesce(c.conversations, 0), coalesce(latency.n, 0), latency.p50, latency.p95,
       coalesce(c.bookings, 0), coalesce(c.revenue, 0), coalesce(c.opt_outs, 0), coalesce(c.takeovers, 0)
  FROM days
  LEFT JOIN counts c ON c.day = days.day
  LEFT JOIN latency ON latency.day = days.day
 ORDER BY days.day
"""

_LOCAL_LATENCY = f"""
SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
  FROM rep_first_responses
 WHERE tenant_id = :tenant AND day BETWEEN CAST(:first AS date) - 1 AND CAST(:last AS date) + 1
   AND {_SAMPLE_LOCAL_DAY} BETWEEN CAST(:first AS date) AND CAST(:last AS date)
"""


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def local_daily_report(
    session: Session, tenant_id: uuid.UUID, *, first: date, last: date, timezone: str
) -> list[DailyReport]:
    """One row per day of the tenant's time zone from ``first`` to ``last`` (inclusive), zeros where nothing
    happened; P50/P95 over that local day's samples."""
    if last < first or (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"a report covers 1 to {MAX_DAYS} days")
    params = {"tenant": tenant_id, "first": first, "last": last, "zone": timezone}
    return [
        DailyReport(
            day=row[0],
            missed_calls=int(row[1]),
            conversations=int(row[2]),
            first_responses=int(row[3]),
            first_response_p50_ms=_ms(row[4]),
            first_response_p95_ms=_ms(row[5]),
            bookings=int(row[6]),
            recovered_revenue_cents=int(row[7]),
            opt_outs=int(row[8]),
            takeovers=int(row[9]),
        )
        for row in session.execute(text(_LOCAL_REPORT), params)
    ]


def local_totals(
    session: Session, tenant_id: uuid.UUID, rows: list[DailyReport], *, first: date, last: date, timezone: str
) -> dict[str, Any]:
    """The local days' rows summed, with P50/P95 over every sample of those days (not an average of daily
    percentiles)."""
    latency = session.execute(
        text(_LOCAL_LATENCY), {"tenant": tenant_id, "first": first, "last": last, "zone": timezone}
    ).one()
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        **{
            name: sum(getattr(row, name) for row in rows)
            for name in (
                "missed_calls",
                "conversations",
                "bookings",
                "recovered_revenue_cents",
                "opt_outs",
                "takeovers",
            )
        },
        "first_responses": int(latency[0]),
        "first_response_p50_ms": _ms(latency[1]),
        "first_response_p95_ms": _ms(latency[2]),
    }
