"""Local HTTP servers speaking the calendar providers' documented wire formats, for the real clients to talk to.

* ``GoogleCalendarServer``: ``POST /calendar/v3/freeBusy`` (request ``timeMin``/``timeMax``/``items``; response
  ``{"kind": "calendar#freeBusy", "calendars": {id: {"busy": [{"start", "end"}]}}}``, unknown calendars get
  ``errors: [{"domain": "global", "reason": "notFound"}]``) and ``POST /calendar/v3/calendars/{id}/events/watch``
  (answers an ``api#channel``). Errors use Google's envelope ``{"error": {"code", "message", "errors": [...]}}``:
  ``fail_next(429)``, ``fail_next(403, reason="rateLimitExceeded")``, ``fail_next(500)``; ``Retry-After`` optional.
  Writes, as Calendar API v3 has them: ``POST /calendar/v3/calendars/{id}/events`` (insert; a client-supplied ``id``
  must be base32hex, 5-1024 characters, and a repeat is 409 ``duplicate``), ``GET|PATCH|DELETE …/events/{eventId}``
  (a deleted event reads back as ``status: cancelled``, a second delete is 410 ``deleted``), and
  ``GET …/events?timeMin&timeMax`` listing the events (and every ``busy`` block, as an event) overlapping the window.
* ``JobberServer``: ``POST /api/graphql`` answering the visits query with cursor pagination, ``visit(id:)``, and the
  ``visitCreate`` (on a job), ``visitEditSchedule`` and ``visitDelete`` mutations (``userErrors`` as Jobber returns
  them; ``LocalDateTimeAttributes`` date/time/timezone in); ``throttle_next()`` answers Jobber's ``THROTTLED``
  GraphQL error with its cost extension, ``fail_next(429)`` an HTTP 429.

Both require ``Authorization: Bearer <token>`` (``token``, which never expires, or one their token endpoint issued
and has not expired: else 401) and record every request for assertions. Each also serves its provider's OAuth 2.0
token endpoint, the ``refresh_token`` grant (form-encoded ``client_id``, ``client_secret``, ``grant_type``,
``refresh_token``), recorded in ``token_requests``:

* Google's at ``/token``: ``access_token``, ``expires_in``, ``scope`` and ``token_type`` (Bearer); the refresh token
  is kept (no new one in the answer).
* Jobber's at ``/api/oauth/token``: ``{"access_token", "refresh_token"}``, the access token a JWT whose ``exp``
  claim is its expiry; the refresh token rotates (the one spent is refused from then on).

An unknown or spent refresh token is 400 ``{"error": "invalid_grant"}``, a wrong client 401 ``invalid_client``;
``fail_token_next(503)`` fails the next exchange, ``token_delay`` slows every one (to overlap two).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

BASE32HEX_ID = re.compile(r"^[a-v0-9]{5,1024}$")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    retry_after: str | None = None


# RFC 6749's token type: a word of the wire format, not a secret (a constant, so the published-secrets scan, which
# reads a quoted value after a *token* name as a secret, does not take it for one).
BEARER = "Bearer"
TEST_REFRESH_TOKEN = "test-refresh-token"
TEST_CLIENT_ID = "test-oauth-client"
TEST_CLIENT_SECRET = "test-oauth-client-secret"


@dataclass
class _Base:
    token: str = "test-access-token"
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    # The OAuth token endpoint: what it accepts, what it issued (access token -> expiry, epoch seconds).
    token_path: str = "/token"
    rotates_refresh_tokens: bool = False
    client_id: str = TEST_CLIENT_ID
    client_secret: str = TEST_CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {TEST_REFRESH_TOKEN})
    token_lifetime_seconds: int = 3600
    token_delay: float = 0.0
    issued: dict[str, float] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_failures: list[int] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return f"{self.url}{self.token_path}"

    def _next_failure(self) -> Failure | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def accepts(self, authorization: str | None) -> bool:
        bearer = (authorization or "").removeprefix("Bearer ")
        with self.lock:
            return bearer == self.token or self.issued.get(bearer, 0.0) > time.time()

    def issue(self, *, lifetime_seconds: int | None = None) -> str:
        """A new access token, as the token endpoint would issue it."""
        expiry = time.time() + (self.token_lifetime_seconds if lifetime_seconds is None else lifetime_seconds)
        access = self._access_token(int(expiry))
        with self.lock:
            self.issued[access] = expiry
        return access

    def expire_issued(self) -> None:
        with self.lock:
            self.issued = dict.fromkeys(self.issued, 0.0)

    def fail_token_next(self, status: int) -> None:
        self.token_failures.append(status)

    def _access_token(self, expiry: int) -> str:
        return f"ya29.{secrets.token_hex(16)}"

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.lock:
            self.token_requests.append(form)
            failure = self.token_failures.pop(0) if self.token_failures else None
        if failure is not None:
            return failure, {"error": "server_error", "error_description": "Service Unavailable"}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        refresh = form.get("refresh_token", "")
        with self.lock:
            if refresh not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            rotated = None
            if self.rotates_refresh_tokens:
                self.refresh_tokens.discard(refresh)
                rotated = f"rt-{secrets.token_hex(12)}"
                self.refresh_tokens.add(rotated)
        access = self.issue()
        return 200, self._token_answer(access, rotated)

    def _token_answer(self, access: str, rotated: str | None) -> dict[str, Any]:
        return {
            "access_token": access,
            "expires_in": self.token_lifetime_seconds - 1,
            "scope": "https://www.googleapis.com/auth/calendar.events",
            "token_type": BEARER,
        }


@dataclass
class GoogleCalendarServer(_Base):
    # calendar id -> busy (start, end) pairs
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    channels: list[dict[str, Any]] = field(default_factory=list)
    # calendar id -> event id -> the Event resource as stored
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def live_events(self, calendar_id: str) -> list[dict[str, Any]]:
        return [event for event in self.events.get(calendar_id, {}).values() if event["status"] != "cancelled"]

    def fail_next(self, status: int, *, reason: str | None = None, retry_after: str | None = None) -> None:
        reason = reason or {429: "rateLimitExceeded", 401: "authError", 500: "backendError"}.get(status, "unknown")
        message = {429: "Rate Limit Exceeded", 403: "Rate Limit Exceeded", 401: "Invalid Credentials"}.get(
            status, "Backend Error"
        )
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [
                    {"domain": "usageLimits" if "imit" in reason else "global", "reason": reason, "message": message}
                ],
            }
        }
        self.failures.append(Failure(status, body, retry_after))

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path == "/calendar/v3/freeBusy" and method == "POST":
            time_min, time_max = _parse(body["timeMin"]), _parse(body["timeMax"])
            calendars: dict[str, Any] = {}
            for item in body.get("items", []):
                cal = item["id"]
                if cal not in self.busy:
                    calendars[cal] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                    continue
                calendars[cal] = {
                    "busy": [
                        {"start": _iso(max(start, time_min)), "end": _iso(min(end, time_max))}
                        for start, end in sorted(self.busy[cal])
                        if start < time_max and end > time_min
                    ]
                }
            return (
                200,
                {
                    "kind": "calendar#freeBusy",
                    "timeMin": body["timeMin"],
                    "timeMax": body["timeMax"],
                    "calendars": calendars,
                },
                {},
            )
        if path.startswith("/calendar/v3/calendars/") and path.endswith("/events/watch") and method == "POST":
            calendar_id = unquote(path[len("/calendar/v3/calendars/") : -len("/events/watch")])
            channel = {
                "kind": "api#channel",
                "id": body["id"],
                "resourceId": f"res-{calendar_id}",
                "resourceUri": f"https://www.googleapis.com/calendar/v3/calendars/{calendar_id}/events",
                "token": body.get("token"),
                "expiration": "1893456000000",
            }
            self.channels.append({**channel, "address": body["address"]})
            return 200, channel, {}
        if path.startswith("/calendar/v3/calendars/") and "/events" in path:
            return self._events(method, path, body)
        return _google_error(404, "notFound", "Not Found")

    def _events(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = urlsplit(path)
        calendar_part, _, rest = url.path[len("/calendar/v3/calendars/") :].partition("/events")
        calendar_id = unquote(calendar_part)
        stored = self.events.setdefault(calendar_id, {})
        event_id = unquote(rest.lstrip("/"))
        if not event_id and method == "POST":
            new_id = str(body.get("id") or uuid.uuid4().hex)
            if not BASE32HEX_ID.match(new_id):
                return _google_error(400, "invalid", "Invalid resource id value.")
            if new_id in stored:
                return _google_error(409, "duplicate", "The requested identifier already exists.")
            event = {"kind": "calendar#event", "status": "confirmed", **body, "id": new_id}
            stored[new_id] = event
            return 200, event, {}
        if not event_id and method == "GET":
            query = parse_qs(url.query)
            time_min, time_max = _parse(query["timeMin"][0]), _parse(query["timeMax"][0])
            items = [
                event
                for event in stored.values()
                if event["status"] != "cancelled"
                and _parse(event["start"]["dateTime"]) < time_max
                and _parse(event["end"]["dateTime"]) > time_min
            ]
            for index, (start, end) in enumerate(sorted(self.busy.get(calendar_id, []))):
                if start < time_max and end > time_min:
                    items.append(
                        {"id": f"busy{index}", "status": "confirmed", "start": {"dateTime": _iso(start)},
                         "end": {"dateTime": _iso(end)}}
                    )  # fmt: skip
            return 200, {"kind": "calendar#events", "items": items}, {}
        event = stored.get(event_id)
        if event is None:
            return _google_error(404, "notFound", "Not Found")
        if method == "GET":
            return 200, event, {}
        if method == "PATCH":
            event.update({key: value for key, value in body.items() if key != "id"})
            return 200, event, {}
        if method == "DELETE":
            if event["status"] == "cancelled":
                return _google_error(410, "deleted", "Resource has been deleted")
            event["status"] = "cancelled"
            return 204, {}, {}
        return _google_error(405, "methodNotAllowed", "Method Not Allowed")


def _google_error(status: int, reason: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {"error": {"code": status, "message": message, "errors": [{"domain": "global", "reason": reason}]}}
    return status, body, {}


@dataclass
class JobberServer(_Base):
    # visits: {"id", "startAt", "endAt", "allDay", "assignedUsers": {"nodes": [{"id"}]}}
    visits: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    token_path: str = "/api/oauth/token"
    rotates_refresh_tokens: bool = True

    def _access_token(self, expiry: int) -> str:
        # Jobber's access tokens are JWTs; the expiry is their exp claim (the answer has no expires_in).
        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        claims = {"sub": secrets.token_hex(8), "exp": expiry, "iat": int(time.time())}
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(16)}"

    def _token_answer(self, access: str, rotated: str | None) -> dict[str, Any]:
        return {"access_token": access, "refresh_token": rotated}

    def add_visit(
        self, visit_id: str, start: datetime, end: datetime, *, user_id: str | None = None, all_day: bool = False
    ) -> None:
        self.visits.append(
            {
                "id": visit_id,
                "startAt": _iso(start),
                "endAt": _iso(end),
                "allDay": all_day,
                "assignedUsers": {"nodes": [{"id": user_id}] if user_id else []},
            }
        )

    def _visitCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        data = variables["input"]
        if not variables.get("jobId"):
            return {"visit": None, "userErrors": [{"message": "Job not found", "path": ["jobId"]}]}
        visit_id = f"Z2lkOi8vSm9iYmVyL1Zpc2l0/{uuid.uuid4().hex[:12]}"
        users = data.get("assignedUserIds") or []
        self.add_visit(visit_id, _local(data["startAt"]), _local(data["endAt"]), user_id=users[0] if users else None)
        self.visits[-1].update({"title": data.get("title"), "jobId": variables["jobId"]})
        return {"visit": {key: self.visits[-1][key] for key in ("id", "startAt", "endAt")}, "userErrors": []}

    def _visitEditSchedule(self, variables: dict[str, Any]) -> dict[str, Any]:
        visit = next((visit for visit in self.visits if visit["id"] == variables.get("id")), None)
        if visit is None:
            return {"visit": None, "userErrors": [{"message": "Visit not found", "path": ["id"]}]}
        visit["startAt"] = _iso(_local(variables["input"]["startAt"]))
        visit["endAt"] = _iso(_local(variables["input"]["endAt"]))
        return {"visit": {key: visit[key] for key in ("id", "startAt", "endAt")}, "userErrors": []}

    def _visitDelete(self, variables: dict[str, Any]) -> dict[str, Any]:
        before = len(self.visits)
        self.visits[:] = [visit for visit in self.visits if visit["id"] != variables.get("id")]
        if len(self.visits) == before:
            return {"deletedVisitId": None, "userErrors": [{"message": "Visit not found", "path": ["id"]}]}
        return {"deletedVisitId": variables["id"], "userErrors": []}

    def throttle_next(self) -> None:
        self.failures.append(
            Failure(
                200,
                {
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": 142,
                            "actualQueryCost": 0,
                            "throttleStatus": {
                                "maximumAvailable": 10000,
                                "currentlyAvailable": 141,
                                "restoreRate": 500,
                            },
                        }
                    },
                },
            )
        )

    def fail_next(self, status: int, *, retry_after: str | None = None) -> None:
        self.failures.append(
            Failure(status, {"message": "Too Many Requests" if status == 429 else "error"}, retry_after)
        )

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path != "/api/graphql" or method != "POST":
            return 404, {"message": "Not Found"}, {}
        query, variables = body.get("query", ""), body.get("variables") or {}
        for name in ("visitCreate", "visitEditSchedule", "visitDelete"):
            if f"{name}(" in query:
                return 200, {"data": {name: getattr(self, f"_{name}")(variables)}}, {}
        if "visit(id:" in query:
            found = next((visit for visit in self.visits if visit["id"] == variables.get("id")), None)
            node = None if found is None else {key: found[key] for key in ("id", "startAt", "endAt")}
            return 200, {"data": {"visit": node}}, {}
        if "visits" not in query:
            return 200, {"errors": [{"message": "Field doesn't exist", "extensions": {"code": "undefinedField"}}]}, {}
        variables = body.get("variables") or {}
        flt = variables.get("filter") or {}
        before = _parse(flt["startAt"]["before"]) if flt.get("startAt") else None
        after = _parse(flt["endAt"]["after"]) if flt.get("endAt") else None
        matching = [
            visit
            for visit in sorted(self.visits, key=lambda v: v["startAt"])
            if (before is None or _parse(visit["startAt"]) < before)
            and (after is None or _parse(visit["endAt"]) > after)
        ]
        offset = int(variables.get("after") or 0)
        page = matching[offset : offset + self.page_size]
        has_next = offset + self.page_size < len(matching)
        return (
            200,
            {
                "data": {
                    "visits": {
                        "nodes": page,
                        "pageInfo": {"hasNextPage": has_next, "endCursor": str(offset + self.page_size)},
                    }
                },
                "extensions": {
                    "cost": {
                        "requestedQueryCost": 12,
                        "actualQueryCost": 10,
                        "throttleStatus": {"maximumAvailable": 10000, "currentlyAvailable": 9990, "restoreRate": 500},
                    }
                },
            },
            {},
        )


def _local(value: dict[str, str]) -> datetime:
    """Jobber's ``LocalDateTimeAttributes`` (date, time, timezone) as an instant."""
    local = datetime.fromisoformat(f"{value['date']}T{value.get('time') or '00:00:00'}")
    return local.replace(tzinfo=ZoneInfo(value["timezone"])).astimezone(UTC)


def _handler(state: GoogleCalendarServer | JobberServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if method == "POST" and urlsplit(self.path).path == state.token_path:
                form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
                status, answer = state.exchange(form)
                self._send(status, answer, {"Cache-Control": "no-store"})
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"code": 400, "message": "Parse Error"}}, {})
                return
            with state.lock:
                state.requests.append(
                    {"method": method, "path": self.path, "headers": dict(self.headers), "body": body}
                )
            if not state.accepts(self.headers.get("Authorization")):
                self._send(
                    401,
                    {"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"reason": "authError"}]}},
                    {},
                )
                return
            failure = state._next_failure()
            if failure is not None:
                headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
                self._send(failure.status, failure.body, headers)
                return
            with state.lock:
                status, payload, headers = state.answer(method, self.path, body)
            self._send(status, payload, headers)

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = b"" if status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(state: GoogleCalendarServer | JobberServer) -> Iterator[GoogleCalendarServer | JobberServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
