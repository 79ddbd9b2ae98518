"""The reports screen (OWNER only, like the API's figures are the owner's business): missed calls, conversations,
first-response P50/P95, bookings and recovered revenue per day of the tenant's time zone, as server-drawn charts and
a table with every figure; a date range (default the last 30 days). Reporting is reached through
``ingress.staff_app.reports`` alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import falcon

from ingress.api.base import caller
from ingress.errors import ApiError
from ingress.staff_app import charts, reports
from ingress.staff_app.auth import authenticate_staff, require_owner
from ingress.staff_app.screens import Screen

DEFAULT_DAYS = 30
# A range far from today is a typo, and date arithmetic near year 1 would overflow instead of answering.
MAX_DISTANCE = timedelta(days=3660)


def _day(req: falcon.Request, name: str, default: date, today: date) -> date:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return default
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: a date YYYY-MM-DD") from None
    if abs(value - today) > MAX_DISTANCE:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: must be within {MAX_DISTANCE.days} days of today")
    return value


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


@falcon.before(authenticate_staff)
@falcon.before(require_owner)
class ReportsResource(Screen):
    """GET /app/reports?from=YYYY-MM-DD&to=YYYY-MM-DD (local dates, inclusive)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with self.transaction(req) as session:
            zone_name = getattr(req.context, "tenant_timezone", "UTC")
            today = datetime.now(UTC).astimezone(ZoneInfo(zone_name)).date()
            last = _day(req, "to", today, today)
            first = _day(req, "from", last - timedelta(days=DEFAULT_DAYS - 1), today)
            if last < first:
                raise ApiError(falcon.HTTP_400, "malformed", "to: must not be before from")
            if (last - first).days + 1 > reports.MAX_DAYS:
                raise ApiError(falcon.HTTP_400, "malformed", f"the range is at most {reports.MAX_DAYS} days")
            rows, totals = reports.report(session, who.tenant_id, first=first, last=last, timezone=zone_name)
        labels = [row.day.strftime("%b %-d") for row in rows]
        counts = charts.bars(
            "chart-counts",
            "Missed calls, conversations and bookings per day",
            labels,
            [
                charts.Series("Missed calls", tuple(row.missed_calls for row in rows), "s-missed"),
                charts.Series("Conversations", tuple(row.conversations for row in rows), "s-conversations"),
                charts.Series("Bookings", tuple(row.bookings for row in rows), "s-bookings"),
            ],
        )
        latency = charts.lines(
            "chart-latency",
            "First response time per day (seconds)",
            labels,
            [
                charts.Series("P50", tuple(_seconds(row.first_response_p50_ms) for row in rows), "s-p50"),
                charts.Series("P95", tuple(_seconds(row.first_response_p95_ms) for row in rows), "s-p95"),
            ],
            unit="s",
        )
        revenue = charts.bars(
            "chart-revenue",
            "Recovered revenue per day (dollars)",
            labels,
            [charts.Series("Revenue", tuple(row.recovered_revenue_cents / 100 for row in rows), "s-revenue")],
            unit="",
        )
        self.pages.render(
            req,
            resp,
            "reports.html",
            active="reports",
            first=first,
            last=last,
            rows=rows,
            totals=totals,
            charts=(counts, latency, revenue),
            zone_name=zone_name,
            seconds=_seconds,
        )
