"""Google Calendar API v3 stand-in, in Google's wire format: busy time, push channels, events, and the token endpoint.

Routes, below the prefix it is mounted at (``/google`` in the sandbox):

* ``POST /calendar/v3/freeBusy`` (request ``timeMin``/``timeMax``/``items``; response ``{"kind": "calendar#freeBusy",
  "calendars": {id: {"busy": [{"start", "end"}]}}}``; an unknown calendar gets ``errors: [{"domain": "global",
  "reason": "notFound"}]``).
* ``POST /calendar/v3/calendars/{id}/events/watch`` (answers an ``api#channel``).
* ``POST /calendar/v3/calendars/{id}/events`` (insert; a client-supplied ``id`` must be base32hex, 5-1024
  characters, and a repeat is 409 ``duplicate``), ``GET|PATCH|DELETE …/events/{eventId}`` (a deleted event reads
  back as ``status: cancelled``, a second delete is 410 ``deleted``), and ``GET …/events?timeMin&timeMax`` listing
  the events (and every ``busy`` block, as an event) overlapping the window.
* ``POST /token``: the ``refresh_token`` grant, answering ``access_token``, ``expires_in``, ``scope`` and
  ``token_type`` (Bearer); the refresh token is kept (no new one in the answer).

Errors use Google's envelope ``{"error": {"code", "message", "errors": [...]}}``; ``fail_next(429)``,
``fail_next(403, reason="rateLimitExceeded")``, ``fail_next(500)`` queue one (``Retry-After`` optional).

Which calendars exist: with ``every_calendar_exists`` (the sandbox: its token reaches any calendar a technician
links) each one does; without it (the tests) only those given busy time.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import falcon

from db.published_secrets import (
    SANDBOX_GOOGLE_ACCESS_TOKEN,
    SANDBOX_GOOGLE_CLIENT_ID,
    SANDBOX_GOOGLE_CLIENT_SECRET,
    SANDBOX_GOOGLE_REFRESH_TOKEN,
)
from ops.sandbox.oauth import (
    BEARER,
    Failure,
    OAuthProvider,
    ProviderAnswer,
    TokenResource,
    render_answer,
)
from ops.sandbox.timestamps import iso8601, parse_iso8601

BASE32HEX_ID = re.compile(r"^[a-v0-9]{5,1024}$")


def google_error(status: int, reason: str, message: str) -> ProviderAnswer:
    body = {"error": {"code": status, "message": message, "errors": [{"domain": "global", "reason": reason}]}}
    return ProviderAnswer(status, body)


@dataclass
class GoogleCalendar(OAuthProvider):
    token: str = SANDBOX_GOOGLE_ACCESS_TOKEN
    client_id: str = SANDBOX_GOOGLE_CLIENT_ID
    client_secret: str = SANDBOX_GOOGLE_CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {SANDBOX_GOOGLE_REFRESH_TOKEN})
    every_calendar_exists: bool = True
    # calendar id -> busy (start, end) pairs
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    channels: list[dict[str, Any]] = field(default_factory=list)
    # calendar id -> event id -> the Event resource as stored
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def live_events(self, calendar_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [event for event in self.events.get(calendar_id, {}).values() if event["status"] != "cancelled"]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every calendar's events (cancelled ones too), each a copy: what ``GET /sandbox/calendars`` shows."""
        with self.lock:
            return {calendar: [dict(event) for event in stored.values()] for calendar, stored in self.events.items()}

    def clear(self) -> int:
        with self.lock:
            count = sum(len(stored) for stored in self.events.values())
            self.events.clear()
            self.busy.clear()
            return count

    def fail_next(self, status: int, *, reason: str | None = None, retry_after: str | None = None) -> None:
        reason = reason or {429: "rateLimitExceeded", 401: "authError", 500: "backendError"}.get(status, "unknown")
        message = {429: "Rate Limit Exceeded", 403: "Rate Limit Exceeded", 401: "Invalid Credentials"}.get(
            status, "Backend Error"
        )
        domain = "usageLimits" if "imit" in reason else "global"
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": domain, "reason": reason, "message": message}],
            }
        }
        with self.lock:
            self.failures.append(Failure(status, body, retry_after))

    def _exists(self, calendar_id: str) -> bool:
        return self.every_calendar_exists or calendar_id in self.busy

    def _access_token(self, expiry: int) -> str:
        return f"ya29.{secrets.token_hex(16)}"

    def _token_answer(self, access: str, rotated: str | None) -> dict[str, Any]:
        return {
            "access_token": access,
            "expires_in": self.token_lifetime_seconds - 1,
            "scope": "https://www.googleapis.com/auth/calendar.events",
            "token_type": BEARER,
        }

    # --- the API ------------------------------------------------------------------------------------------------

    def free_busy(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            time_min, time_max = parse_iso8601(body["timeMin"]), parse_iso8601(body["timeMax"])
        except (KeyError, TypeError, ValueError):
            raise google_error(400, "badRequest", "Bad Request") from None
        calendars: dict[str, Any] = {}
        with self.lock:
            for item in body.get("items") or []:
                calendar_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(calendar_id, str):
                    raise google_error(400, "badRequest", "items[].id is required")
                if not self._exists(calendar_id):
                    calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                    continue
                calendars[calendar_id] = {
                    "busy": [
                        {"start": iso8601(max(start, time_min)), "end": iso8601(min(end, time_max))}
                        for start, end in sorted(self.busy.get(calendar_id, []))
                        if start < time_max and end > time_min
                    ]
                }
        window = {"timeMin": body["timeMin"], "timeMax": body["timeMax"]}
        return {"kind": "calendar#freeBusy", **window, "calendars": calendars}

    def watch(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        channel = {
            "kind": "api#channel",
            "id": body.get("id"),
            "resourceId": f"res-{calendar_id}",
            "resourceUri": f"https://www.googleapis.com/calendar/v3/calendars/{calendar_id}/events",
            "token": body.get("token"),
            "expiration": "1893456000000",
        }
        with self.lock:
            self.channels.append({**channel, "address": body.get("address")})
        return channel

    def insert(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        new_id = str(body.get("id") or uuid.uuid4().hex)
        if not BASE32HEX_ID.match(new_id):
            raise google_error(400, "invalid", "Invalid resource id value.")
        if _bounds(body) is None:
            raise google_error(400, "required", "Missing start or end time.")
        with self.lock:
            stored = self.events.setdefault(calendar_id, {})
            if new_id in stored:
                raise google_error(409, "duplicate", "The requested identifier already exists.")
            event = {"kind": "calendar#event", "status": "confirmed", **body, "id": new_id}
            stored[new_id] = event
            return dict(event)

    def window(self, calendar_id: str, time_min: datetime, time_max: datetime) -> dict[str, Any]:
        with self.lock:
            items = [
                dict(event)
                for event in self.events.get(calendar_id, {}).values()
                if event["status"] != "cancelled"
                and (bounds := _bounds(event)) is not None
                and bounds[0] < time_max
                and bounds[1] > time_min
            ]
            for index, (start, end) in enumerate(sorted(self.busy.get(calendar_id, []))):
                if start < time_max and end > time_min:
                    items.append(
                        {"id": f"busy{index}", "status": "confirmed", "start": {"dateTime": iso8601(start)},
                         "end": {"dateTime": iso8601(end)}}
                    )  # fmt: skip
        return {"kind": "calendar#events", "items": items}

    def get(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._event(calendar_id, event_id))

    def patch(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            event = self._event(calendar_id, event_id)
            event.update({key: value for key, value in body.items() if key != "id"})
            return dict(event)

    def delete(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            event = self._event(calendar_id, event_id)
            if event["status"] == "cancelled":
                raise google_error(410, "deleted", "Resource has been deleted")
            event["status"] = "cancelled"

    def _event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        event = self.events.get(calendar_id, {}).get(event_id)
        if event is None:
            raise google_error(404, "notFound", "Not Found")
        return event


def _bounds(event: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """An event's start and end instants (``dateTime``: the writers never make all-day events), or None."""
    try:
        return parse_iso8601(event["start"]["dateTime"]), parse_iso8601(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None


# --- Falcon resources ------------------------------------------------------------------------------------------


class _Resource:
    def __init__(self, google: GoogleCalendar, prefix: str) -> None:
        self._google = google
        self._prefix = prefix


class FreeBusyResource(_Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._google.free_busy(self._google.admit(req, self._prefix))


class WatchResource(_Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, calendar_id: str) -> None:
        resp.media = self._google.watch(calendar_id, self._google.admit(req, self._prefix))


class EventsResource(_Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, calendar_id: str) -> None:
        resp.media = self._google.insert(calendar_id, self._google.admit(req, self._prefix))

    def on_get(self, req: falcon.Request, resp: falcon.Response, calendar_id: str) -> None:
        self._google.admit(req, self._prefix)
        try:
            time_min, time_max = (
                parse_iso8601(req.get_param("timeMin", required=True)),
                parse_iso8601(req.get_param("timeMax", required=True)),
            )
        except (falcon.HTTPBadRequest, ValueError):
            raise google_error(400, "badRequest", "timeMin and timeMax are required RFC 3339 times") from None
        resp.media = self._google.window(calendar_id, time_min, time_max)


class EventResource(_Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, calendar_id: str, event_id: str) -> None:
        self._google.admit(req, self._prefix)
        resp.media = self._google.get(calendar_id, event_id)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, calendar_id: str, event_id: str) -> None:
        resp.media = self._google.patch(calendar_id, event_id, self._google.admit(req, self._prefix))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, calendar_id: str, event_id: str) -> None:
        self._google.admit(req, self._prefix)
        self._google.delete(calendar_id, event_id)
        resp.status = falcon.HTTP_204


def mount_google_calendar(app: falcon.App, google: GoogleCalendar, prefix: str) -> None:
    """Serve ``google`` at ``prefix`` (``""``: at the root, as www.googleapis.com does)."""
    app.add_error_handler(ProviderAnswer, render_answer)
    calendars = f"{prefix}/calendar/v3/calendars/{{calendar_id}}"
    app.add_route(f"{prefix}/calendar/v3/freeBusy", FreeBusyResource(google, prefix))
    app.add_route(f"{calendars}/events/watch", WatchResource(google, prefix))
    app.add_route(f"{calendars}/events", EventsResource(google, prefix))
    app.add_route(f"{calendars}/events/{{event_id}}", EventResource(google, prefix))
    app.add_route(f"{prefix}/token", TokenResource(google))
