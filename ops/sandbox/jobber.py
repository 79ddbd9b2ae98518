"""Jobber GraphQL stand-in, in Jobber's wire format: visits read and written, and the OAuth token endpoint.

Routes, below the prefix it is mounted at (``/jobber`` in the sandbox):

* ``POST /api/graphql`` answering the ``visits`` query with cursor pagination (and Jobber's cost extension),
  ``visit(id:)``, and the ``visitCreate`` (on a job), ``visitEditSchedule`` and ``visitDelete`` mutations
  (``userErrors`` as Jobber returns them; ``LocalDateTimeAttributes`` date/time/timezone in).
  ``throttle_next()`` answers Jobber's ``THROTTLED`` GraphQL error with its cost extension, ``fail_next(429)`` an
  HTTP 429.
* ``POST /api/oauth/token``: the ``refresh_token`` grant, answering ``{"access_token", "refresh_token"}``, the access
  token a JWT whose ``exp`` claim is its expiry; the refresh token rotates (the one spent is refused from then on).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import falcon

from db.published_secrets import (
    SANDBOX_JOBBER_ACCESS_TOKEN,
    SANDBOX_JOBBER_CLIENT_ID,
    SANDBOX_JOBBER_CLIENT_SECRET,
    SANDBOX_JOBBER_REFRESH_TOKEN,
)
from ops.sandbox.oauth import Failure, OAuthProvider, ProviderAnswer, TokenResource, render_answer
from ops.sandbox.timestamps import iso8601, parse_iso8601

_COST = {
    "requestedQueryCost": 12,
    "actualQueryCost": 10,
    "throttleStatus": {"maximumAvailable": 10000, "currentlyAvailable": 9990, "restoreRate": 500},
}
_MUTATIONS = ("visitCreate", "visitEditSchedule", "visitDelete")


def _local(value: dict[str, str]) -> datetime:
    """Jobber's ``LocalDateTimeAttributes`` (date, time, timezone) as an instant."""
    local = datetime.fromisoformat(f"{value['date']}T{value.get('time') or '00:00:00'}")
    return local.replace(tzinfo=ZoneInfo(value["timezone"])).astimezone(UTC)


def _schedule(node: dict[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in ("id", "startAt", "endAt")}


@dataclass
class Jobber(OAuthProvider):
    token: str = SANDBOX_JOBBER_ACCESS_TOKEN
    client_id: str = SANDBOX_JOBBER_CLIENT_ID
    client_secret: str = SANDBOX_JOBBER_CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {SANDBOX_JOBBER_REFRESH_TOKEN})
    rotates_refresh_tokens: bool = True
    # visits: {"id", "startAt", "endAt", "allDay", "assignedUsers": {"nodes": [{"id"}]}, and "title", "jobId"}
    visits: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(visit)) for visit in self.visits]

    def clear(self) -> int:
        with self.lock:
            count = len(self.visits)
            self.visits.clear()
            return count

    def add_visit(
        self, visit_id: str, start: datetime, end: datetime, *, user_id: str | None = None, all_day: bool = False
    ) -> dict[str, Any]:
        visit = {
            "id": visit_id,
            "startAt": iso8601(start),
            "endAt": iso8601(end),
            "allDay": all_day,
            "assignedUsers": {"nodes": [{"id": user_id}] if user_id else []},
        }
        with self.lock:
            self.visits.append(visit)
        return visit

    def throttle_next(self) -> None:
        cost = {
            "requestedQueryCost": 142,
            "actualQueryCost": 0,
            "throttleStatus": {"maximumAvailable": 10000, "currentlyAvailable": 141, "restoreRate": 500},
        }
        body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}], "extensions": {"cost": cost}}
        with self.lock:
            self.failures.append(Failure(200, body))

    def fail_next(self, status: int, *, retry_after: str | None = None) -> None:
        with self.lock:
            self.failures.append(
                Failure(status, {"message": "Too Many Requests" if status == 429 else "error"}, retry_after)
            )

    def _access_token(self, expiry: int) -> str:
        # Jobber's access tokens are JWTs; the expiry is their exp claim (the answer has no expires_in).
        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        claims = {"sub": secrets.token_hex(8), "exp": expiry, "iat": int(time.time())}
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_urlsafe(16)}"

    def _token_answer(self, access: str, rotated: str | None) -> dict[str, Any]:
        return {"access_token": access, "refresh_token": rotated}

    # --- the API ------------------------------------------------------------------------------------------------

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        query, variables = str(body.get("query") or ""), body.get("variables") or {}
        if not isinstance(variables, dict):
            return {"errors": [{"message": "Variables must be an object", "extensions": {"code": "badRequest"}}]}
        try:
            with self.lock:
                for name in _MUTATIONS:
                    if f"{name}(" in query:
                        return {"data": {name: getattr(self, f"_{name}")(variables)}}
                if "visit(id:" in query:
                    found = self._visit(variables.get("id"))
                    return {"data": {"visit": None if found is None else _schedule(found)}}
                if "visits" in query:
                    return self._visits(variables)
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError) as error:
            return {"errors": [{"message": f"Invalid input: {error}", "extensions": {"code": "badUserInput"}}]}
        return {"errors": [{"message": "Field doesn't exist", "extensions": {"code": "undefinedField"}}]}

    def _visit(self, visit_id: object) -> dict[str, Any] | None:
        return next((visit for visit in self.visits if visit["id"] == visit_id), None)

    def _visits(self, variables: dict[str, Any]) -> dict[str, Any]:
        flt = variables.get("filter") or {}
        before = parse_iso8601(flt["startAt"]["before"]) if flt.get("startAt") else None
        after = parse_iso8601(flt["endAt"]["after"]) if flt.get("endAt") else None
        matching = [
            visit
            for visit in sorted(self.visits, key=lambda v: v["startAt"])
            if (before is None or parse_iso8601(visit["startAt"]) < before)
            and (after is None or parse_iso8601(visit["endAt"]) > after)
        ]
        offset = int(variables.get("after") or 0)
        page = matching[offset : offset + self.page_size]
        has_next = offset + self.page_size < len(matching)
        return {
            "data": {
                "visits": {
                    "nodes": page,
                    "pageInfo": {"hasNextPage": has_next, "endCursor": str(offset + self.page_size)},
                }
            },
            "extensions": {"cost": _COST},
        }

    def _visitCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        data = variables["input"]
        if not variables.get("jobId"):
            return {"visit": None, "userErrors": [{"message": "Job not found", "path": ["jobId"]}]}
        users = data.get("assignedUserIds") or []
        visit = self.add_visit(
            f"Z2lkOi8vSm9iYmVyL1Zpc2l0/{uuid.uuid4().hex[:12]}",
            _local(data["startAt"]),
            _local(data["endAt"]),
            user_id=users[0] if users else None,
        )
        visit.update({"title": data.get("title"), "jobId": variables["jobId"]})
        return {"visit": _schedule(visit), "userErrors": []}

    def _visitEditSchedule(self, variables: dict[str, Any]) -> dict[str, Any]:
        visit = self._visit(variables.get("id"))
        if visit is None:
            return {"visit": None, "userErrors": [{"message": "Visit not found", "path": ["id"]}]}
        visit["startAt"] = iso8601(_local(variables["input"]["startAt"]))
        visit["endAt"] = iso8601(_local(variables["input"]["endAt"]))
        return {"visit": _schedule(visit), "userErrors": []}

    def _visitDelete(self, variables: dict[str, Any]) -> dict[str, Any]:
        before = len(self.visits)
        self.visits[:] = [visit for visit in self.visits if visit["id"] != variables.get("id")]
        if len(self.visits) == before:
            return {"deletedVisitId": None, "userErrors": [{"message": "Visit not found", "path": ["id"]}]}
        return {"deletedVisitId": variables["id"], "userErrors": []}


class GraphqlResource:
    def __init__(self, jobber: Jobber, prefix: str) -> None:
        self._jobber = jobber
        self._prefix = prefix

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._jobber.answer(self._jobber.admit(req, self._prefix))


def mount_jobber(app: falcon.App, jobber: Jobber, prefix: str) -> None:
    """Serve ``jobber`` at ``prefix`` (``""``: at the root, as api.getjobber.com does)."""
    app.add_error_handler(ProviderAnswer, render_answer)
    app.add_route(f"{prefix}/api/graphql", GraphqlResource(jobber, prefix))
    app.add_route(f"{prefix}/api/oauth/token", TokenResource(jobber))
