"""Real HTTP clients for the calendar providers, at the URLs the settings resolve (the sandbox's stand-ins locally).

* Google Calendar API v3: ``POST /calendar/v3/freeBusy`` for busy time, ``POST /calendar/v3/calendars/{id}/events/
  watch`` to open a push-notification channel (its token comes back on every notification).
* Jobber GraphQL API: ``POST /api/graphql`` (``X-JOBBER-GRAPHQL-VERSION``), visits in a window, paginated by cursor.

Rate limits (HTTP 429, Google's 403 ``rateLimitExceeded``/``userRateLimitExceeded``, Jobber's ``THROTTLED`` GraphQL
error with its cost/restore-rate extension) are retried a bounded number of times after the wait the provider asks
for; whatever still fails comes out as the domain's ``CalendarUnavailable`` so a sync records it and the poll
retries later.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import tenacity

from db.settings import Settings
from domain.scheduling.errors import CalendarUnavailable
from domain.scheduling.sync import BusyBlock, CalendarRef

GOOGLE_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class CalendarRateLimited(CalendarUnavailable):
    """The provider asked us to slow down (and kept asking through our bounded retries)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


class _Retrying:
    """Bounded in-process retry (tenacity) of rate-limited calls, sleeping what the provider asked for (capped).

    Only the provider's "slow down" is retried here, within one sync; anything longer-lived is the durable retry of
    the calendar poll, which Postgres keeps.
    """

    def __init__(self, max_retries: int, max_wait_seconds: float, sleep: Callable[[float], None]) -> None:
        self._policy = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(CalendarRateLimited),
            stop=tenacity.stop_after_attempt(max_retries + 1),
            wait=self._asked_for(max_wait_seconds),
            sleep=sleep,
            reraise=True,
        )

    @staticmethod
    def _asked_for(max_wait_seconds: float) -> Callable[[tenacity.RetryCallState], float]:
        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            asked = error.retry_after if isinstance(error, CalendarRateLimited) else None
            return min(asked if asked is not None else 2.0**state.attempt_number, max_wait_seconds)

        return wait

    def run(self, call: Callable[[], Any]) -> Any:
        # A copy per call: a Retrying carries the state of the call it runs, and the clients are shared by threads.
        return self._policy.copy()(call)


def _whole_local_days(start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return local_start.time() == local_end.time() == datetime.min.time() and local_end.date() > local_start.date()


class GoogleCalendarClient:
    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        http: httpx.Client,
        retry: _Retrying,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = access_token
        self._http = http
        self._retry = retry

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                response = self._http.post(
                    f"{self._base}{path}", json=body, headers={"Authorization": f"Bearer {self._token}"}
                )
            except httpx.HTTPError as error:
                raise CalendarUnavailable(f"google: {type(error).__name__}: {error}") from None
            if response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
            reasons, message = set(), response.text[:200]
            try:
                error_body = response.json().get("error", {})
                message = str(error_body.get("message", message))
                reasons = {str(item.get("reason")) for item in error_body.get("errors", [])}
            except ValueError:
                pass
            if response.status_code == 429 or (response.status_code == 403 and reasons & GOOGLE_RATE_LIMIT_REASONS):
                raise CalendarRateLimited(
                    f"google rate limited: {message}", retry_after=_retry_after(response), status=response.status_code
                )
            raise CalendarUnavailable(f"google {response.status_code}: {message}", status=response.status_code)

        result: dict[str, Any] = self._retry.run(call)
        return result

    def free_busy(self, calendar_id: str, time_min: datetime, time_max: datetime, timezone: str) -> list[BusyBlock]:
        data = self._post(
            "/calendar/v3/freeBusy",
            {"timeMin": _iso(time_min), "timeMax": _iso(time_max), "timeZone": "UTC", "items": [{"id": calendar_id}]},
        )
        entry = data.get("calendars", {}).get(calendar_id)
        if entry is None:
            raise CalendarUnavailable(f"google: freeBusy answered without calendar {calendar_id}")
        if entry.get("errors"):
            reasons = ", ".join(str(item.get("reason")) for item in entry["errors"])
            raise CalendarUnavailable(f"google: calendar {calendar_id}: {reasons}")
        zone = ZoneInfo(timezone)
        blocks = []
        for busy in entry.get("busy", []):
            start, end = _parse_time(busy["start"]), _parse_time(busy["end"])
            # freeBusy has no all-day flag; an opaque all-day event shows as whole local days.
            blocks.append(BusyBlock(start, end, all_day=_whole_local_days(start, end, zone)))
        return blocks

    def watch(self, calendar_id: str, *, channel_id: str, address: str, token: str) -> dict[str, Any]:
        """Open a push channel: Google will POST to ``address`` with ``X-Goog-Channel-Token: token``."""
        return self._post(
            f"/calendar/v3/calendars/{quote(calendar_id, safe='')}/events/watch",
            {"id": channel_id, "type": "web_hook", "address": address, "token": token},
        )


VISITS_QUERY = """
query BusyVisits($after: String, $filter: VisitFilterAttributes) {
  visits(first: 100, after: $after, filter: $filter) {
    nodes { id startAt endAt allDay assignedUsers { nodes { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class JobberClient:
    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        api_version: str,
        http: httpx.Client,
        retry: _Retrying,
        max_pages: int = 50,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/api/graphql"
        self._token = access_token
        self._version = api_version
        self._http = http
        self._retry = retry
        self._max_pages = max_pages

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                response = self._http.post(
                    self._url,
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {self._token}", "X-JOBBER-GRAPHQL-VERSION": self._version},
                )
            except httpx.HTTPError as error:
                raise CalendarUnavailable(f"jobber: {type(error).__name__}: {error}") from None
            return jobber_data(response)

        result: dict[str, Any] = self._retry.run(call)
        return result

    def busy_visits(
        self, *, user_id: str | None, window_start: datetime, window_end: datetime, timezone: str
    ) -> list[BusyBlock]:
        zone = ZoneInfo(timezone)
        blocks: list[BusyBlock] = []
        cursor: str | None = None
        for _page in range(self._max_pages):
            data = self._query(
                VISITS_QUERY,
                {
                    "after": cursor,
                    "filter": {"startAt": {"before": _iso(window_end)}, "endAt": {"after": _iso(window_start)}},
                },
            )
            visits = data.get("visits") or {}
            for node in visits.get("nodes", []):
                assigned = {user["id"] for user in (node.get("assignedUsers") or {}).get("nodes", [])}
                if user_id is not None and user_id not in assigned:
                    continue
                blocks.append(_visit_block(node, zone))
            page = visits.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return blocks
            cursor = page.get("endCursor")
        raise CalendarUnavailable("jobber: too many pages of visits")


def jobber_data(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a Jobber GraphQL answer, or why there is none: rate limits (HTTP 429, or GraphQL's THROTTLED
    with the wait its cost says) are ``CalendarRateLimited``, anything else unusable is ``CalendarUnavailable``."""
    if response.status_code == 429:
        raise CalendarRateLimited("jobber rate limited", retry_after=_retry_after(response), status=429)
    if response.status_code != 200:
        raise CalendarUnavailable(f"jobber {response.status_code}: {response.text[:200]}", status=response.status_code)
    body: dict[str, Any] = response.json()
    errors = body.get("errors") or []
    if any((error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors):
        raise CalendarRateLimited("jobber throttled", retry_after=_throttle_wait(body), status=200)
    if errors:
        raise CalendarUnavailable(f"jobber: {errors[0].get('message', 'GraphQL error')}", status=200)
    data: dict[str, Any] = body.get("data") or {}
    return data


def _throttle_wait(body: dict[str, Any]) -> float | None:
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _visit_block(node: dict[str, Any], zone: ZoneInfo) -> BusyBlock:
    start, end = _parse_time(node["startAt"]), _parse_time(node["endAt"])
    if node.get("allDay"):
        # An all-day visit blocks its whole local days, whatever times Jobber attached to it.
        first: date = start.astimezone(zone).date()
        last: date = max(first, (end - timedelta(seconds=1)).astimezone(zone).date())
        start = datetime.combine(first, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
        return BusyBlock(start, end, all_day=True, external_ref=str(node["id"]))
    return BusyBlock(start, end, all_day=False, external_ref=str(node["id"]))


class CalendarClients:
    """The scheduling module's ``BusySource``: dispatches a calendar to its provider's client."""

    def __init__(self, google: GoogleCalendarClient, jobber: JobberClient, *, window_days: int) -> None:
        self.google = google
        self.jobber = jobber
        self.window_days = window_days

    def fetch_busy(self, calendar: CalendarRef, window_start: datetime, window_end: datetime) -> list[BusyBlock]:
        if calendar.provider == "google":
            return self.google.free_busy(calendar.external_ref, window_start, window_end, calendar.timezone)
        if calendar.provider == "jobber":
            # external_ref is "<accountId>" (every visit) or "<accountId>/<userId>" (one technician's visits).
            _account, _, user = calendar.external_ref.partition("/")
            return self.jobber.busy_visits(
                user_id=user or None, window_start=window_start, window_end=window_end, timezone=calendar.timezone
            )
        return []


def build_calendar_clients(
    settings: Settings,
    *,
    http: httpx.Client | None = None,
    max_retries: int = 2,
    max_wait_seconds: float = 5.0,
    sleep: Callable[[float], None] = clock.sleep,
) -> CalendarClients:
    client = http or httpx.Client(timeout=settings.calendar_http_timeout_seconds)
    retry = _Retrying(max_retries, max_wait_seconds, sleep)
    return CalendarClients(
        GoogleCalendarClient(
            base_url=settings.google_calendar_api_url,
            access_token=settings.google_calendar_token,
            http=client,
            retry=retry,
        ),
        JobberClient(
            base_url=settings.jobber_api_url,
            access_token=settings.jobber_token,
            api_version=settings.jobber_api_version,
            http=client,
            retry=retry,
        ),
        window_days=settings.calendar_sync_window_days,
    )
