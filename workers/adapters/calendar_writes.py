"""Writing appointments to the providers: the scheduling module's ``CalendarWriter`` port, over their HTTP APIs.

* Google Calendar API v3, with the resource calendar's own OAuth token: ``GET/PATCH/DELETE
  /calendar/v3/calendars/{calendarId}/events/{eventId}``, ``POST …/events`` (insert, with our client-supplied
  base32hex id: a repeat answers 409 ``duplicate``, which is adopted), and ``GET …/events?timeMin&timeMax`` to see
  what else is busy then (freeBusy cannot leave our own event out).
* Jobber GraphQL (``POST /api/graphql``): a booking is a visit on the job the calendar was linked with
  (``visitCreate``), moved with ``visitEditSchedule`` (``LocalDateTimeAttributes``: date, time and time zone) and
  removed with ``visitDelete``; ``visit(id:)`` and the ``visits`` window find it again.

Rate limits (429, Google's 403 ``rateLimitExceeded``, Jobber's ``THROTTLED``) are retried in process after the wait
the provider asked for (``Retry-After``, Jobber's restore rate), as the busy-time adapters do; whatever still fails,
and every 5xx, is ``CalendarUnavailable``, which the outbox delivery retries with backoff. A 401 is
``AccessTokenRejected`` (the write-back renews the token once and tries again); a 403 that is not a rate limit is
``WriteRefused``: never retried, it marks the link invalid and opens a task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from db.settings import Settings
from domain.scheduling.credentials import WriteTarget
from domain.scheduling.errors import CalendarUnavailable
from domain.scheduling.write_back import AccessTokenRejected, EventDraft, ExternalEvent, WriteRefused
from workers.adapters.calendars import (
    GOOGLE_RATE_LIMIT_REASONS,
    VISITS_QUERY,
    CalendarRateLimited,
    _iso,
    _parse_time,
    _retry_after,
    _Retrying,
    jobber_data,
)


class GoogleCalendarWriter:
    def __init__(self, *, base_url: str, http: httpx.Client, retry: _Retrying) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._retry = retry

    def _events(self, target: WriteTarget) -> str:
        return f"{self._base}/calendar/v3/calendars/{quote(target.external_ref, safe='')}/events"

    def _request(
        self, target: WriteTarget, method: str, url: str, *, json: Any = None, params: Any = None, ok: tuple[int, ...]
    ) -> httpx.Response:
        def call() -> httpx.Response:
            try:
                response = self._http.request(
                    method, url, json=json, params=params, headers={"Authorization": f"Bearer {target.access_token}"}
                )
            except httpx.HTTPError as error:
                raise CalendarUnavailable(f"google: {type(error).__name__}: {error}") from None
            if response.status_code in ok or 200 <= response.status_code < 300:
                return response
            reasons, message = _google_error(response)
            if response.status_code == 429 or (response.status_code == 403 and reasons & GOOGLE_RATE_LIMIT_REASONS):
                raise CalendarRateLimited(
                    f"google rate limited: {message}", retry_after=_retry_after(response), status=response.status_code
                )
            if response.status_code == 401:
                raise AccessTokenRejected(f"google 401: {message}")
            if response.status_code == 403:
                raise WriteRefused(f"google 403: {message}")
            raise CalendarUnavailable(f"google {response.status_code}: {message}", status=response.status_code)

        result: httpx.Response = self._retry.run(call)
        return result

    def find(self, target: WriteTarget, draft: EventDraft, *, external_id: str | None) -> ExternalEvent | None:
        event_id = external_id or draft.event_id
        response = self._request(target, "GET", f"{self._events(target)}/{event_id}", ok=(404, 410))
        if response.status_code in (404, 410):
            return None
        body = response.json()
        start, end = _google_time(body.get("start")), _google_time(body.get("end"))
        if start is None or end is None:
            return None
        return ExternalEvent(str(body.get("id") or event_id), start, end, cancelled=body.get("status") == "cancelled")

    def slot_taken(self, target: WriteTarget, draft: EventDraft, *, ignore: str | None) -> bool:
        params: dict[str, str] = {
            "timeMin": _iso(draft.starts_at),
            "timeMax": _iso(draft.ends_at),
            "singleEvents": "true",
            "maxResults": "250",
        }
        while True:
            body = self._request(target, "GET", self._events(target), params=params, ok=()).json()
            for item in body.get("items", []):
                if item.get("id") in (ignore, draft.event_id) or item.get("status") == "cancelled":
                    continue
                if item.get("transparency") == "transparent":
                    continue  # "show me as available"
                start, end = (
                    _google_time(item.get("start"), target.timezone),
                    _google_time(item.get("end"), target.timezone),
                )
                if start is not None and end is not None and start < draft.ends_at and end > draft.starts_at:
                    return True
            token = body.get("nextPageToken")
            if not token:
                return False
            params["pageToken"] = str(token)

    def _body(self, target: WriteTarget, draft: EventDraft) -> dict[str, Any]:
        return {
            "summary": draft.title,
            "description": draft.description,
            "start": {"dateTime": _iso(draft.starts_at), "timeZone": target.timezone},
            "end": {"dateTime": _iso(draft.ends_at), "timeZone": target.timezone},
            "status": "confirmed",
            "extendedProperties": {"private": {"nmcAppointmentId": str(draft.appointment_id)}},
        }

    def create(self, target: WriteTarget, draft: EventDraft) -> str:
        body = {"id": draft.event_id, **self._body(target, draft)}
        # 409: an event with our id exists already (an earlier attempt's insert went through): it is ours.
        self._request(target, "POST", self._events(target), json=body, ok=(409,))
        return draft.event_id

    def move(self, target: WriteTarget, external_id: str, draft: EventDraft) -> None:
        self._request(target, "PATCH", f"{self._events(target)}/{external_id}", json=self._body(target, draft), ok=())

    def remove(self, target: WriteTarget, external_id: str) -> None:
        self._request(target, "DELETE", f"{self._events(target)}/{external_id}", ok=(404, 410))


def _google_error(response: httpx.Response) -> tuple[set[str], str]:
    message = response.text[:200]
    try:
        error = response.json().get("error", {})
    except ValueError:
        return set(), message
    return {str(item.get("reason")) for item in error.get("errors", [])}, str(error.get("message", message))


def _google_time(value: Any, timezone: str = "UTC") -> datetime | None:
    if not isinstance(value, dict):
        return None
    if value.get("dateTime"):
        return _parse_time(str(value["dateTime"]))
    if value.get("date"):  # an all-day event: midnight of that day where the technician is
        day = datetime.fromisoformat(str(value["date"]))
        return day.replace(tzinfo=ZoneInfo(timezone))
    return None


VISIT_QUERY = "query NmcVisit($id: EncodedId!) { visit(id: $id) { id startAt endAt } }"
VISIT_CREATE = """
mutation NmcVisitCreate($jobId: EncodedId!, $input: VisitCreateInput!) {
  visitCreate(jobId: $jobId, input: $input) { visit { id startAt endAt } userErrors { message path } }
}
"""
VISIT_EDIT_SCHEDULE = """
mutation NmcVisitEditSchedule($id: EncodedId!, $input: VisitEditScheduleInput!) {
  visitEditSchedule(id: $id, input: $input) { visit { id startAt endAt } userErrors { message path } }
}
"""
VISIT_DELETE = """
mutation NmcVisitDelete($id: EncodedId!) { visitDelete(id: $id) { deletedVisitId userErrors { message path } } }
"""


class JobberWriter:
    def __init__(self, *, base_url: str, api_version: str, http: httpx.Client, retry: _Retrying) -> None:
        self._url = f"{base_url.rstrip('/')}/api/graphql"
        self._version = api_version
        self._http = http
        self._retry = retry

    def _query(self, target: WriteTarget, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                response = self._http.post(
                    self._url,
                    json={"query": query, "variables": variables},
                    headers={
                        "Authorization": f"Bearer {target.access_token}",
                        "X-JOBBER-GRAPHQL-VERSION": self._version,
                    },
                )
            except httpx.HTTPError as error:
                raise CalendarUnavailable(f"jobber: {type(error).__name__}: {error}") from None
            if response.status_code == 401:
                raise AccessTokenRejected(f"jobber 401: {response.text[:200]}")
            if response.status_code == 403:
                raise WriteRefused(f"jobber 403: {response.text[:200]}")
            return jobber_data(response)

        result: dict[str, Any] = self._retry.run(call)
        return result

    def _window(self, target: WriteTarget, draft: EventDraft) -> list[dict[str, Any]]:
        """Visits of the calendar's technician overlapping the slot (every page)."""
        visits: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(20):
            data = self._query(
                target,
                VISITS_QUERY,
                {
                    "after": cursor,
                    "filter": {"startAt": {"before": _iso(draft.ends_at)}, "endAt": {"after": _iso(draft.starts_at)}},
                },
            )
            page = data.get("visits") or {}
            for node in page.get("nodes", []):
                assigned = {user["id"] for user in (node.get("assignedUsers") or {}).get("nodes", [])}
                if target.jobber_user_id is None or target.jobber_user_id in assigned:
                    visits.append(node)
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return visits
            cursor = info.get("endCursor")
        raise CalendarUnavailable("jobber: too many pages of visits")

    def find(self, target: WriteTarget, draft: EventDraft, *, external_id: str | None) -> ExternalEvent | None:
        if external_id is not None:
            visit = self._query(target, VISIT_QUERY, {"id": external_id}).get("visit")
            if not visit:
                return None
            return ExternalEvent(str(visit["id"]), _parse_time(visit["startAt"]), _parse_time(visit["endAt"]))
        # A create whose answer was lost: the visit we made is the one at exactly this slot.
        for visit in self._window(target, draft):
            start, end = _parse_time(visit["startAt"]), _parse_time(visit["endAt"])
            if (start, end) == (draft.starts_at, draft.ends_at):
                return ExternalEvent(str(visit["id"]), start, end)
        return None

    def slot_taken(self, target: WriteTarget, draft: EventDraft, *, ignore: str | None) -> bool:
        return any(
            str(visit["id"]) != ignore
            and _parse_time(visit["startAt"]) < draft.ends_at
            and _parse_time(visit["endAt"]) > draft.starts_at
            for visit in self._window(target, draft)
        )

    def _schedule(self, target: WriteTarget, draft: EventDraft) -> dict[str, Any]:
        return {"startAt": _local(draft.starts_at, target.timezone), "endAt": _local(draft.ends_at, target.timezone)}

    def create(self, target: WriteTarget, draft: EventDraft) -> str:
        if not target.jobber_job_id:
            raise WriteRefused("jobber: the calendar was linked without the job its visits belong to")
        assigned = [target.jobber_user_id] if target.jobber_user_id else []
        data = self._query(
            target,
            VISIT_CREATE,
            {
                "jobId": target.jobber_job_id,
                "input": {
                    "title": draft.title,
                    "instructions": draft.description,
                    **self._schedule(target, draft),
                    "assignedUserIds": assigned,
                },
            },
        )
        payload = _payload(data, "visitCreate")
        visit = payload.get("visit") or {}
        if not visit.get("id"):
            raise CalendarUnavailable("jobber: visitCreate answered without a visit")
        return str(visit["id"])

    def move(self, target: WriteTarget, external_id: str, draft: EventDraft) -> None:
        data = self._query(target, VISIT_EDIT_SCHEDULE, {"id": external_id, "input": self._schedule(target, draft)})
        _payload(data, "visitEditSchedule")

    def remove(self, target: WriteTarget, external_id: str) -> None:
        data = self._query(target, VISIT_DELETE, {"id": external_id})
        payload = data.get("visitDelete") or {}
        errors = payload.get("userErrors") or []
        if errors and not all("not found" in str(error.get("message", "")).lower() for error in errors):
            raise CalendarUnavailable(f"jobber: visitDelete: {errors[0].get('message')}")


def _payload(data: dict[str, Any], field: str) -> dict[str, Any]:
    payload: dict[str, Any] = data.get(field) or {}
    errors = payload.get("userErrors") or []
    if errors:
        raise CalendarUnavailable(f"jobber: {field}: {errors[0].get('message')}")
    return payload


def _local(moment: datetime, timezone: str) -> dict[str, str]:
    local = moment.astimezone(ZoneInfo(timezone))
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M:%S"), "timezone": timezone}


class CalendarWriters:
    """The scheduling module's ``CalendarWriter``: each call goes to the target calendar's provider."""

    def __init__(self, google: GoogleCalendarWriter, jobber: JobberWriter) -> None:
        self.google = google
        self.jobber = jobber

    def _of(self, target: WriteTarget) -> GoogleCalendarWriter | JobberWriter:
        return self.google if target.provider == "google" else self.jobber

    def find(self, target: WriteTarget, draft: EventDraft, *, external_id: str | None) -> ExternalEvent | None:
        return self._of(target).find(target, draft, external_id=external_id)

    def slot_taken(self, target: WriteTarget, draft: EventDraft, *, ignore: str | None) -> bool:
        return self._of(target).slot_taken(target, draft, ignore=ignore)

    def create(self, target: WriteTarget, draft: EventDraft) -> str:
        return self._of(target).create(target, draft)

    def move(self, target: WriteTarget, external_id: str, draft: EventDraft) -> None:
        self._of(target).move(target, external_id, draft)

    def remove(self, target: WriteTarget, external_id: str) -> None:
        self._of(target).remove(target, external_id)


def build_calendar_writers(
    settings: Settings,
    *,
    http: httpx.Client | None = None,
    max_retries: int = 2,
    max_wait_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> CalendarWriters:
    client = http or httpx.Client(timeout=settings.calendar_http_timeout_seconds)
    retry = _Retrying(max_retries, max_wait_seconds, sleep)
    return CalendarWriters(
        GoogleCalendarWriter(base_url=settings.google_calendar_api_url, http=client, retry=retry),
        JobberWriter(
            base_url=settings.jobber_api_url, api_version=settings.jobber_api_version, http=client, retry=retry
        ),
    )
