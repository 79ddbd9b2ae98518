"""GET /v1/reports: the tenant's per-day figures (UTC days) from the reporting projections, and their totals.

The same numbers ``nmc report --json`` prints, for the tenant of the caller only (row-level security and the
tenant filter in ``domain.reporting.queries`` both hold it to that tenant).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import falcon
from sqlalchemy.orm import Session, sessionmaker

from domain.reporting import queries
from ingress.api.base import Authenticate, authenticate, caller, query_int, tenant_transaction
from ingress.errors import ApiError

DEFAULT_DAYS = 7
# A report ending far from today is a typo, and date arithmetic near year 1 would overflow instead of answering.
MAX_DISTANCE = timedelta(days=3660)


@falcon.before(authenticate)
class ReportsResource:
    """``days`` (1-400, default 7) ending with ``to`` (a UTC date, default today), oldest first, zeros where nothing
    happened; ``totals`` has P50/P95 over every sample in the window, not an average of daily percentiles."""

    def __init__(self, auth: Authenticate, sessions: sessionmaker[Session]) -> None:
        self.auth = auth
        self.sessions = sessions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        count = query_int(req, "days", min_value=1, max_value=queries.MAX_DAYS, default=DEFAULT_DAYS)
        today = datetime.now(UTC).date()
        last = _day(req.get_param("to"), today)
        if abs(last - today) > MAX_DISTANCE:
            raise ApiError(falcon.HTTP_400, "malformed", f"to: must be within {MAX_DISTANCE.days} days of today")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            rows = queries.daily_report(session, who.tenant_id, count, today=last)
            total = queries.totals(session, who.tenant_id, count, today=last)
        resp.media = {"tenant_id": str(who.tenant_id), "days": [row.to_json() for row in rows], "totals": total}


def _day(raw: str | None, today: date) -> date:
    if raw is None:
        return today
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(falcon.HTTP_400, "malformed", "to: a date YYYY-MM-DD") from None
