"""/v1 scheduling: resources and working hours, time off, availability, holds and appointments.

OWNER and TECH both operate scheduling. Every id in a path or body is looked up in the caller's tenant first, so
another tenant's resource, hold or appointment is simply not found (404) — foreign keys alone would not stop a
write naming another tenant's resource. A slot that cannot be had is a typed 409 ``slot_unavailable`` carrying the
reason and nearby open alternatives; the booking transaction (and its Idempotency-Key) rolls back with it.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

import falcon
from pydantic import AwareDatetime, Field, StringConstraints, field_validator
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from domain.catalog import service as catalog
from domain.conversations import operator
from domain.identity import service as identity
from domain.scheduling import service as scheduling
from domain.scheduling.availability import WEEKDAYS, Preference, Shift, Slot, parse_preference
from domain.scheduling.errors import (
    AppointmentNotBooked,
    AppointmentNotFound,
    HoldNotFound,
    SlotUnavailable,
)
from domain.scheduling.models import Appointment, Hold, ResourceService, TimeOff, WorkingHours
from domain.scheduling.models import Resource as ResourceRow
from ingress.api.base import (
    Authenticate,
    as_uuid,
    authenticate,
    caller,
    parse_model,
    parse_uuid,
    query_int,
    request_events,
    run_post,
    tenant_transaction,
)
from ingress.api.catalog import money_json
from ingress.api.resources import Strict
from ingress.errors import ApiError, error_body

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_WINDOW = timedelta(days=31)
DEFAULT_WINDOW = timedelta(days=7)
# How far from now a request may point: beyond it nothing is bookable, and datetime arithmetic near year 1 or 9999
# would overflow instead of answering.
HORIZON = timedelta(days=730)
MAX_TIME_OFF_DAYS = 366


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


# --- bodies ------------------------------------------------------------------------------------------------------


class ShiftBody(Strict):
    """One weekly shift in the resource's local time; weekday 0 = Monday … 6 = Sunday."""

    weekday: int = Field(ge=0, le=6)
    starts: time
    ends: time

    @field_validator("starts", "ends")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local wall time without an offset, e.g. 09:00")
        return value

    @field_validator("ends")
    @classmethod
    def _after_start(cls, value: time, info: Any) -> time:
        starts = info.data.get("starts")
        if starts is not None and value <= starts:
            raise ValueError("must be after starts")
        return value


def _no_overlap(shifts: list[ShiftBody]) -> list[ShiftBody]:
    ordered = sorted(shifts, key=lambda shift: (shift.weekday, shift.starts))
    for before, after in itertools.pairwise(ordered):
        if before.weekday == after.weekday and after.starts < before.ends:
            raise ValueError(f"shifts on weekday {after.weekday} overlap")
    return shifts


class ResourceBody(Strict):
    name: Name
    timezone: str = Field(max_length=64, description="IANA time zone the working hours are written in")
    buffer_minutes: int = Field(default=0, ge=0, le=240)
    min_lead_minutes: int = Field(default=60, ge=0, le=10080)
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    service_item_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    working_hours: list[ShiftBody] = Field(default_factory=list, max_length=100)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError("not an IANA time zone, e.g. America/Los_Angeles")
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: list[ShiftBody]) -> list[ShiftBody]:
        return _no_overlap(value)


class WorkingHoursBody(Strict):
    shifts: list[ShiftBody] = Field(max_length=100)

    @field_validator("shifts")
    @classmethod
    def _hours(cls, value: list[ShiftBody]) -> list[ShiftBody]:
        return _no_overlap(value)


class ResourceServicesBody(Strict):
    """Which service items the resource can do; an empty list makes it a generalist (it can do every service)."""

    service_item_ids: list[uuid.UUID] = Field(max_length=200)


class TimeOffBody(Strict):
    """Inclusive local dates; without ``resource_id`` the whole business is closed."""

    first_day: date
    last_day: date
    resource_id: uuid.UUID | None = None
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("last_day")
    @classmethod
    def _order(cls, value: date, info: Any) -> date:
        first = info.data.get("first_day")
        if first is not None:
            if value < first:
                raise ValueError("must not be before first_day")
            if (value - first).days >= MAX_TIME_OFF_DAYS:
                raise ValueError(f"at most {MAX_TIME_OFF_DAYS} days per entry")
        return value


class BookBody(Strict):
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: AwareDatetime
    customer_phone: E164
    conversation_id: uuid.UUID | None = None


class HoldBody(Strict):
    resource_id: uuid.UUID
    service_item_id: uuid.UUID
    starts_at: AwareDatetime
    customer_phone: E164 | None = None
    conversation_id: uuid.UUID | None = None


class ConfirmBody(Strict):
    customer_phone: E164 | None = None


class CancelBody(Strict):
    reason: str = Field(default="cancelled by operator", min_length=1, max_length=500)


class ReleaseBody(Strict):
    reason: str = Field(default="released by operator", min_length=1, max_length=500)


class RescheduleBody(Strict):
    starts_at: AwareDatetime
    resource_id: uuid.UUID | None = None


# --- the typed conflict --------------------------------------------------------------------------------------------


class SlotConflict(Exception):
    """Raised out of the transaction so it rolls back; rendered as the one error shape plus reason and alternatives."""

    def __init__(self, error: SlotUnavailable) -> None:
        super().__init__(str(error))
        self.reason = error.reason
        self.alternatives = [slot_json(slot) for slot in error.alternatives]


def render_slot_conflict(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
    assert isinstance(error, SlotConflict)
    body = error_body("slot_unavailable", f"that time cannot be booked: {error.reason}")
    body["error"]["reason"] = error.reason
    body["error"]["alternatives"] = error.alternatives
    resp.status = falcon.HTTP_409
    resp.media = body


def register_error_handlers(app: falcon.App) -> None:
    app.add_error_handler(SlotConflict, render_slot_conflict)


# --- JSON ----------------------------------------------------------------------------------------------------------


def slot_json(slot: Slot) -> dict[str, Any]:
    return scheduling.as_dict(slot)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def appointment_json(row: Appointment) -> dict[str, Any]:
    starts_at, ends_at = scheduling.slot_bounds(row)
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id),
        "service_item_id": str(row.service_item_id),
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "status": row.status,
        "customer_phone": row.customer_phone,
        "price": money_json(row.price_cents, row.currency),
        "hold_id": str(row.hold_id) if row.hold_id else None,
        "conversation_id": str(row.conversation_id) if row.conversation_id else None,
        "created_at": _iso(row.created_at),
        "cancelled_at": _iso(row.cancelled_at),
    }


def hold_json(row: Hold) -> dict[str, Any]:
    starts_at, ends_at = scheduling.slot_bounds(row)
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id),
        "service_item_id": str(row.service_item_id),
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "status": row.status,
        "expires_at": row.expires_at.isoformat(),
        "customer_phone": row.customer_phone,
        "conversation_id": str(row.conversation_id) if row.conversation_id else None,
    }


def time_off_json(row: TimeOff) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id) if row.resource_id else None,
        "first_day": row.first_day.isoformat(),
        "last_day": row.last_day.isoformat(),
        "reason": row.reason,
    }


def resources_json(session: Session, tenant_id: uuid.UUID, rows: list[ResourceRow]) -> list[dict[str, Any]]:
    """Resources with their services and weekly hours, in two queries however many resources there are."""
    ids = [row.id for row in rows]
    services: dict[uuid.UUID, list[str]] = {rid: [] for rid in ids}
    hours: dict[uuid.UUID, list[dict[str, Any]]] = {rid: [] for rid in ids}
    if ids:
        for resource_id, item_id in session.execute(
            select(ResourceService.resource_id, ResourceService.service_item_id)
            .where(ResourceService.tenant_id == tenant_id, ResourceService.resource_id.in_(ids))
            .order_by(ResourceService.service_item_id)
        ):
            services[resource_id].append(str(item_id))
        for shift in session.scalars(
            select(WorkingHours)
            .where(WorkingHours.tenant_id == tenant_id, WorkingHours.resource_id.in_(ids))
            .order_by(WorkingHours.weekday, WorkingHours.starts_local)
        ):
            hours[shift.resource_id].append(
                {
                    "weekday": shift.weekday,
                    "weekday_name": WEEKDAYS[shift.weekday],
                    "starts": shift.starts_local.isoformat("minutes"),
                    "ends": shift.ends_local.isoformat("minutes"),
                }
            )
    return [
        {
            "id": str(row.id),
            "name": row.name,
            "active": row.active,
            "timezone": row.timezone,
            "buffer_minutes": row.buffer_minutes,
            "min_lead_minutes": row.min_lead_minutes,
            "slot_step_minutes": row.slot_step_minutes,
            "service_item_ids": services[row.id],
            "working_hours": hours[row.id],
            "created_at": _iso(row.created_at),
        }
        for row in rows
    ]


# --- lookups in the caller's tenant ---------------------------------------------------------------------------------


def _resource(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> ResourceRow:
    row = session.scalars(
        select(ResourceRow).where(ResourceRow.id == resource_id, ResourceRow.tenant_id == tenant_id)
    ).one_or_none()
    if row is None:
        raise ApiError(falcon.HTTP_404, "not_found", f"resource {resource_id} not found")
    return row


def _quote(session: Session, tenant_id: uuid.UUID, service_item_id: uuid.UUID) -> catalog.Candidate:
    try:
        return catalog.quote(session, tenant_id=tenant_id, service_item_id=service_item_id)
    except catalog.ServiceItemNotFound:
        raise ApiError(
            falcon.HTTP_404, "not_found", f"service item {service_item_id} not found (or not active)"
        ) from None


def _check_service_items(session: Session, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> None:
    for item_id in set(ids):
        try:
            catalog.get_service_item(session, tenant_id=tenant_id, service_item_id=item_id, active_only=False)
        except catalog.ServiceItemNotFound:
            raise ApiError(
                falcon.HTTP_422, "validation_failed", f"service_item_ids: no service item {item_id}"
            ) from None


def _future_start(value: datetime, now: datetime, field: str) -> datetime:
    # Said before the horizon or the lead time: a start already gone is never a slot, however near.
    if value <= now:
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{field}: must be in the future")
    return _within_horizon(value, now, field)


def _own_conversation(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID | None) -> None:
    if conversation_id is not None:
        try:
            operator.hold_conversation(session, tenant_id=tenant_id, conversation_id=conversation_id)
        except operator.NotFound as error:
            raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None


def _within_horizon(value: datetime, now: datetime, field: str) -> datetime:
    if not now - HORIZON <= value <= now + HORIZON:
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{field}: must be within {HORIZON.days} days of now")
    return value.astimezone(UTC)


def _requested_slot(
    session: Session, tenant_id: uuid.UUID, new: HoldBody | BookBody, now: datetime
) -> tuple[catalog.Candidate, datetime, datetime]:
    """What a hold or a booking asks for, checked the same way for both: the start within the horizon, the service
    item active (its catalog duration and price), the resource and the conversation (if any) the tenant's own."""
    starts_at = _future_start(new.starts_at, now, "starts_at")
    item = _quote(session, tenant_id, new.service_item_id)
    _resource(session, tenant_id, new.resource_id)
    _own_conversation(session, tenant_id, new.conversation_id)
    return item, starts_at, starts_at + timedelta(minutes=item.duration_minutes)


# --- query parameters ---------------------------------------------------------------------------------------------


def _query_datetime(req: falcon.Request, name: str) -> datetime | None:
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


def _query_uuid(req: falcon.Request, name: str, *, required: bool = False) -> uuid.UUID | None:
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


def _preference_json(preference: Preference | None) -> dict[str, Any] | None:
    if preference is None:
        return None
    return {
        "after": preference.earliest_local.isoformat("minutes") if preference.earliest_local else None,
        "before": preference.latest_local.isoformat("minutes") if preference.latest_local else None,
        "weekdays": [WEEKDAYS[day] for day in sorted(preference.weekdays)] if preference.weekdays else None,
        "dates": sorted(day.isoformat() for day in preference.dates) if preference.dates else None,
    }


# --- resources -----------------------------------------------------------------------------------------------------


class SchedulingResource:
    def __init__(self, auth: Authenticate, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.auth = auth
        self.sessions = sessions
        self.settings = settings


@falcon.before(authenticate)
class ResourcesResource(SchedulingResource):
    """GET lists the tenant's resources with services and hours; POST creates one (optionally with both)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            rows = scheduling.list_resources(session, tenant_id=who.tenant_id)
            resp.media = {"items": resources_json(session, who.tenant_id, rows)}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, ResourceBody)
            _check_service_items(session, who.tenant_id, new.service_item_ids)
            row = scheduling.create_resource(
                session,
                tenant_id=who.tenant_id,
                name=new.name,
                timezone=new.timezone,
                buffer_minutes=new.buffer_minutes,
                min_lead_minutes=new.min_lead_minutes,
                slot_step_minutes=new.slot_step_minutes,
                service_item_ids=new.service_item_ids,
            )
            scheduling.set_working_hours(
                session, tenant_id=who.tenant_id, resource_id=row.id, shifts=_shifts(new.working_hours)
            )
            return 201, resources_json(session, who.tenant_id, [row])[0]

        run_post(req, resp, self.sessions, act)


def _shifts(shifts: Iterable[ShiftBody]) -> list[Shift]:
    return [Shift(shift.weekday, shift.starts, shift.ends) for shift in shifts]


@falcon.before(authenticate)
class ResourceResource(SchedulingResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        who = caller(req)
        ident = parse_uuid(resource_id, "resource")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = _resource(session, who.tenant_id, ident)
            detail = resources_json(session, who.tenant_id, [row])[0]
            detail["time_off"] = [
                time_off_json(off)
                for off in session.scalars(
                    select(TimeOff)
                    .where(TimeOff.tenant_id == who.tenant_id, TimeOff.resource_id == ident)
                    .order_by(TimeOff.first_day)
                )
            ]
            resp.media = detail


@falcon.before(authenticate)
class WorkingHoursResource(SchedulingResource):
    """PUT replaces the resource's weekly hours (idempotent by nature: the same body gives the same hours)."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        who = caller(req)
        ident = parse_uuid(resource_id, "resource")
        hours = parse_model(req.bounded_stream.read(), WorkingHoursBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = _resource(session, who.tenant_id, ident)
            scheduling.set_working_hours(
                session, tenant_id=who.tenant_id, resource_id=ident, shifts=_shifts(hours.shifts)
            )
            resp.media = resources_json(session, who.tenant_id, [row])[0]


@falcon.before(authenticate)
class ResourceServicesResource(SchedulingResource):
    """PUT replaces which service items the resource can do."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        who = caller(req)
        ident = parse_uuid(resource_id, "resource")
        change = parse_model(req.bounded_stream.read(), ResourceServicesBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = _resource(session, who.tenant_id, ident)
            _check_service_items(session, who.tenant_id, change.service_item_ids)
            scheduling.set_resource_services(
                session, tenant_id=who.tenant_id, resource_id=ident, service_item_ids=change.service_item_ids
            )
            resp.media = resources_json(session, who.tenant_id, [row])[0]


@falcon.before(authenticate)
class TimeOffResource(SchedulingResource):
    """GET lists days off (``resource_id`` filters; business-wide entries are always included); POST adds one."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        resource_id = _query_uuid(req, "resource_id")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            query = select(TimeOff).where(TimeOff.tenant_id == who.tenant_id)
            if resource_id is not None:
                query = query.where((TimeOff.resource_id == resource_id) | TimeOff.resource_id.is_(None))
            rows = session.scalars(query.order_by(TimeOff.first_day, TimeOff.id))
            resp.media = {"items": [time_off_json(row) for row in rows]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, TimeOffBody)
            if new.resource_id is not None:
                _resource(session, who.tenant_id, new.resource_id)
            row = scheduling.add_time_off(
                session,
                tenant_id=who.tenant_id,
                first_day=new.first_day,
                last_day=new.last_day,
                resource_id=new.resource_id,
                reason=new.reason,
            )
            return 201, time_off_json(row)

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class AvailabilityResource(SchedulingResource):
    """GET /v1/availability?service_item_id=…&from=…&to=…&preference=…: open slots for an active service, earliest
    first, across the resources that can do it (or one, with ``resource_id``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)
        service_item_id = _query_uuid(req, "service_item_id", required=True)
        assert service_item_id is not None
        resource_id = _query_uuid(req, "resource_id")
        limit = query_int(req, "limit", min_value=1, max_value=100, default=10)
        start = _query_datetime(req, "from") or now
        if start > now + HORIZON:
            raise ApiError(falcon.HTTP_400, "malformed", f"from: must be within {HORIZON.days} days of now")
        end = _query_datetime(req, "to") or start + DEFAULT_WINDOW
        if end <= start:
            raise ApiError(falcon.HTTP_400, "malformed", "to: must be after from")
        if end - start > MAX_WINDOW:
            raise ApiError(falcon.HTTP_400, "malformed", f"to: the window is at most {MAX_WINDOW.days} days")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            item = _quote(session, who.tenant_id, service_item_id)
            if resource_id is not None:
                _resource(session, who.tenant_id, resource_id)
            tenant = identity.get_tenant(session, who.tenant_id)
            zone = ZoneInfo(tenant.timezone if tenant is not None else "UTC")
            preference = preference_from(req, now.astimezone(zone).date())
            # The past is never bookable: search from now, but answer with the window that was asked for.
            window_start = max(start, now)
            slots = (
                scheduling.find_slots(
                    session,
                    tenant_id=who.tenant_id,
                    service_item_id=item.service_item_id,
                    duration_minutes=item.duration_minutes,
                    window_start=window_start,
                    window_end=end,
                    now=now,
                    preference=preference,
                    limit=limit,
                    resource_id=resource_id,
                )
                if end > window_start
                else []
            )
        resp.media = {
            "service_item": {
                "id": str(item.service_item_id),
                "name": item.name,
                "duration_minutes": item.duration_minutes,
                "price": money_json(item.price_cents, item.currency),
            },
            "from": start.isoformat(),
            "to": end.isoformat(),
            "preference": _preference_json(preference),
            "slots": [slot_json(slot) for slot in slots],
        }


@falcon.before(authenticate)
class HoldsResource(SchedulingResource):
    """POST places a hold for the configured Hold TTL ⇒ ``HoldPlaced``; 409 ``slot_unavailable`` otherwise."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, HoldBody)
            item, starts_at, ends_at = _requested_slot(session, who.tenant_id, new, now)
            try:
                hold = scheduling.place_hold(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    resource_id=new.resource_id,
                    service_item_id=item.service_item_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    now=now,
                    ttl_minutes=self.settings.hold_ttl_minutes,
                    conversation_id=new.conversation_id,
                    customer_phone=new.customer_phone,
                )
            except SlotUnavailable as error:
                raise SlotConflict(error) from None
            return 201, hold_json(hold)

        run_post(req, resp, self.sessions, act)


def _hold(session: Session, tenant_id: uuid.UUID, hold_id: uuid.UUID) -> Hold:
    row = session.scalars(select(Hold).where(Hold.id == hold_id, Hold.tenant_id == tenant_id)).one_or_none()
    if row is None:
        raise ApiError(falcon.HTTP_404, "not_found", f"hold {hold_id} not found")
    return row


@falcon.before(authenticate)
class HoldActionResource(SchedulingResource):
    """POST /v1/holds/{id}/confirm ⇒ an appointment at the catalog price; POST /v1/holds/{id}/release."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, hold_id: str, action: str) -> None:
        who = caller(req)
        ident = parse_uuid(hold_id, "hold")
        if action not in ("confirm", "release"):
            raise ApiError(falcon.HTTP_404, "not_found", "no such action")
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            hold = _hold(session, who.tenant_id, ident)
            if action == "release":
                release = parse_model(body, ReleaseBody)
                released = scheduling.release_hold(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    hold_id=ident,
                    reason=release.reason,
                    now=now,
                )
                return 200, hold_json(released)
            confirm = parse_model(body, ConfirmBody)
            if confirm.customer_phone is None and hold.customer_phone is None:
                raise ApiError(falcon.HTTP_422, "validation_failed", "customer_phone: the hold has none; give one")
            try:
                price = catalog.get_service_item(
                    session, tenant_id=who.tenant_id, service_item_id=hold.service_item_id, active_only=False
                )
                appointment = scheduling.confirm_hold(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    hold_id=ident,
                    price_cents=price.price_cents,
                    currency=price.currency,
                    now=now,
                    customer_phone=confirm.customer_phone,
                )
            except catalog.ServiceItemNotFound:
                raise ApiError(falcon.HTTP_409, "conflict", "the held service item no longer exists") from None
            except HoldNotFound as error:
                raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
            except SlotUnavailable as error:
                raise SlotConflict(error) from None
            return 201, appointment_json(appointment)

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class AppointmentsResource(SchedulingResource):
    """GET lists appointments by start time (filters: status, from, to, customer_phone); POST books one at the
    catalog price ⇒ ``AppointmentBooked``, or 409 ``slot_unavailable`` with alternatives."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        status = req.get_param("status")
        if status is not None and status not in ("booked", "cancelled"):
            raise ApiError(falcon.HTTP_400, "malformed", "status: booked or cancelled")
        start = _query_datetime(req, "from")
        end = _query_datetime(req, "to")
        phone = req.get_param("customer_phone")
        limit = query_int(req, "limit", min_value=1, max_value=200, default=50)
        query = select(Appointment).where(Appointment.tenant_id == who.tenant_id)
        if status is not None:
            query = query.where(Appointment.status == status)
        if phone is not None:
            query = query.where(Appointment.customer_phone == phone)
        if start is not None:
            query = query.where(text("upper(sched_appointments.timeslot) > :from_").bindparams(from_=start))
        if end is not None:
            query = query.where(text("lower(sched_appointments.timeslot) < :to_").bindparams(to_=end))
        query = query.order_by(text("lower(sched_appointments.timeslot)"), Appointment.id).limit(limit)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            resp.media = {"items": [appointment_json(row) for row in session.scalars(query)]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, BookBody)
            item, starts_at, ends_at = _requested_slot(session, who.tenant_id, new, now)
            try:
                appointment = scheduling.book_slot(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    resource_id=new.resource_id,
                    service_item_id=item.service_item_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    customer_phone=new.customer_phone,
                    price_cents=item.price_cents,
                    currency=item.currency,
                    now=now,
                    conversation_id=new.conversation_id,
                )
            except SlotUnavailable as error:
                raise SlotConflict(error) from None
            return 201, appointment_json(appointment)

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class AppointmentResource(SchedulingResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, appointment_id: str) -> None:
        who = caller(req)
        ident = parse_uuid(appointment_id, "appointment")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = session.scalars(
                select(Appointment).where(Appointment.id == ident, Appointment.tenant_id == who.tenant_id)
            ).one_or_none()
            if row is None:
                raise ApiError(falcon.HTTP_404, "not_found", f"appointment {ident} not found")
            resp.media = appointment_json(row)


@falcon.before(authenticate)
class AppointmentActionResource(SchedulingResource):
    """POST /v1/appointments/{id}/cancel ⇒ ``AppointmentCancelled`` (twice changes nothing);
    POST /v1/appointments/{id}/reschedule ⇒ ``AppointmentRescheduled``, or 409 with alternatives."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, appointment_id: str, action: str) -> None:
        who = caller(req)
        ident = parse_uuid(appointment_id, "appointment")
        if action not in ("cancel", "reschedule"):
            raise ApiError(falcon.HTTP_404, "not_found", "no such action")
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            try:
                if action == "cancel":
                    cancel = parse_model(body, CancelBody)
                    row = scheduling.cancel_appointment(
                        session,
                        events=request_events(req, session),
                        tenant_id=who.tenant_id,
                        appointment_id=ident,
                        reason=cancel.reason,
                        now=now,
                    )
                    return 200, appointment_json(row)
                move = parse_model(body, RescheduleBody)
                starts_at = _future_start(move.starts_at, now, "starts_at")
                if move.resource_id is not None:
                    _resource(session, who.tenant_id, move.resource_id)
                row = scheduling.reschedule_appointment(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    appointment_id=ident,
                    starts_at=starts_at,
                    now=now,
                    resource_id=move.resource_id,
                )
                return 200, appointment_json(row)
            except AppointmentNotFound as error:
                raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
            except AppointmentNotBooked as error:
                raise ApiError(falcon.HTTP_409, "not_booked", str(error)) from None
            except SlotUnavailable as error:
                raise SlotConflict(error) from None

        run_post(req, resp, self.sessions, act)


def register(app: falcon.App, auth: Authenticate, sessions: sessionmaker[Session], settings: Settings) -> None:
    register_error_handlers(app)
    app.add_route("/v1/resources", ResourcesResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id}", ResourceResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id}/working-hours", WorkingHoursResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id}/services", ResourceServicesResource(auth, sessions, settings))
    app.add_route("/v1/time-off", TimeOffResource(auth, sessions, settings))
    app.add_route("/v1/availability", AvailabilityResource(auth, sessions, settings))
    app.add_route("/v1/holds", HoldsResource(auth, sessions, settings))
    app.add_route("/v1/holds/{hold_id}/{action}", HoldActionResource(auth, sessions, settings))
    app.add_route("/v1/appointments", AppointmentsResource(auth, sessions, settings))
    app.add_route("/v1/appointments/{appointment_id}", AppointmentResource(auth, sessions, settings))
    app.add_route("/v1/appointments/{appointment_id}/{action}", AppointmentActionResource(auth, sessions, settings))
