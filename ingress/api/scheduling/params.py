"""Scheduling query parameters: ISO date-times with an offset, local times, UUIDs and free-word preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import falcon

from domain.scheduling.availability import WEEKDAYS, Preference, parse_preference
from ingress.api.base import as_uuid
from ingress.errors import ApiError

# --- query parameters ---------------------------------------------------------------------------------------------


def query_datetime(req: falcon.Request, name: str) -> datetime | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(
            falcon.HTTP_400, "malformed", f"{name}: an ISO 8601 date-time with an offset, e.g. 2025-03-12T15:00:00Z"
        ) from None


def _query_time(req: falcon.Request, name: str) -> time | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        value = time.fromisoformat(raw)
    except ValueError:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: a local time HH:MM, e.g. 15:00") from None
    if value.tzinfo is not None:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: a local time without an offset")
    return value


def query_uuid(req: falcon.Request, name: str, *, required: bool = False) -> uuid.UUID | None:
    raw = req.get_param(name)
    if raw is None:
        if required:
            raise ApiError(falcon.HTTP_400, "malformed", f"{name}: required")
        return None
    found = as_uuid(raw)
    if found is None:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: must be a UUID")
    return found


def _weekday(raw: str) -> int:
    value = raw.strip().lower()
    if value.isascii() and value.isdigit() and int(value) < len(WEEKDAYS):
        return int(value)
    for index, name in enumerate(WEEKDAYS):
        if len(value) >= 3 and name.startswith(value):
            return index
    raise ApiError(falcon.HTTP_400, "malformed", "weekday: monday … sunday (or 0-6, Monday = 0)")


def preference_from(req: falcon.Request, today: date) -> Preference | None:
    """Free words (``preference=mornings``, ``after 3pm``, ``thursday``) and explicit ``after``/``before``/``weekday``
    parameters; an explicit parameter wins over the words."""
    words = req.get_param("preference") or ""
    if len(words) > 200:
        raise ApiError(falcon.HTTP_400, "malformed", "preference: at most 200 characters")
    parsed = parse_preference(words, today=today) if words.strip() else None
    earliest = _query_time(req, "after")
    latest = _query_time(req, "before")
    days = req.get_param_as_list("weekday")
    weekdays = frozenset(_weekday(day) for day in days) if days else None
    if parsed is None and earliest is None and latest is None and weekdays is None:
        return None
    base = parsed or Preference()
    return Preference(
        earliest_local=earliest or base.earliest_local,
        latest_local=latest or base.latest_local,
        weekdays=weekdays or base.weekdays,
        dates=base.dates,
    )
