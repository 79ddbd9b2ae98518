"""The /v1 scheduling resources. OWNER and TECH both operate scheduling. Every id in a path or body is looked up in
the caller's tenant first (``lookups``), so another tenant's resource, hold or appointment is simply not found (404).
A slot that cannot be had is a typed 409 ``slot_unavailable`` carrying the reason and nearby open alternatives; the
booking transaction (and its Idempotency-Key) rolls back with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import falcon
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from domain.catalog import service as catalog
from domain.composition.bookings import confirm_hold_at_catalog_price
from domain.identity import service as identity
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Shift
from domain.scheduling.errors import AppointmentNotBooked, AppointmentNotFound, HoldNotFound, SlotUnavailable
from domain.scheduling.records import SlotRequest
from ingress.api.base import (
    Authenticate,
    authenticate,
    caller,
    parse_model,
    query_int,
    request_events,
    run_post,
    tenant_transaction,
)
from ingress.api.catalog import money_json
from ingress.api.scheduling import writes
from ingress.api.scheduling.lookups import (
    active_quote,
    check_service_items,
    own_hold,
    own_resource,
    requested_slot,
)
from ingress.api.scheduling.params import preference_from, query_datetime, query_uuid
from ingress.api.scheduling.schemas import (
    DEFAULT_WINDOW,
    HORIZON,
    MAX_WINDOW,
    BookBody,
    CancelBody,
    ConfirmBody,
    HoldBody,
    ReleaseBody,
    RescheduleBody,
    ResourceBody,
    ResourceServicesBody,
    ShiftBody,
    TimeOffBody,
    WorkingHoursBody,
)
from ingress.api.scheduling.serializers import (
    SlotConflict,
    appointment_json,
    hold_json,
    preference_json,
    resource_json,
    slot_json,
    time_off_json,
)
from ingress.errors import ApiError


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
            resp.media = {"items": [resource_json(row) for row in rows]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, ResourceBody)
            check_service_items(session, who.tenant_id, new.service_item_ids)
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
            return 201, resource_json(own_resource(session, who.tenant_id, row.id))

        run_post(req, resp, self.sessions, act)


def _shifts(shifts: Iterable[ShiftBody]) -> list[Shift]:
    return [Shift(shift.weekday, shift.starts, shift.ends) for shift in shifts]


@falcon.before(authenticate)
class ResourceResource(SchedulingResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            detail = resource_json(own_resource(session, who.tenant_id, resource_id))
            detail["time_off"] = [
                time_off_json(off)
                for off in queries.list_time_off(
                    session, tenant_id=who.tenant_id, resource_id=resource_id, business_wide=False
                )
            ]
            resp.media = detail


@falcon.before(authenticate)
class WorkingHoursResource(SchedulingResource):
    """PUT replaces the resource's weekly hours (idempotent by nature: the same body gives the same hours)."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        hours = parse_model(req.bounded_stream.read(), WorkingHoursBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            own_resource(session, who.tenant_id, resource_id)
            scheduling.set_working_hours(
                session, tenant_id=who.tenant_id, resource_id=resource_id, shifts=_shifts(hours.shifts)
            )
            resp.media = resource_json(own_resource(session, who.tenant_id, resource_id))


@falcon.before(authenticate)
class ResourceServicesResource(SchedulingResource):
    """PUT replaces which service items the resource can do."""

    def on_put(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        change = parse_model(req.bounded_stream.read(), ResourceServicesBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            own_resource(session, who.tenant_id, resource_id)
            check_service_items(session, who.tenant_id, change.service_item_ids)
            scheduling.set_resource_services(
                session, tenant_id=who.tenant_id, resource_id=resource_id, service_item_ids=change.service_item_ids
            )
            resp.media = resource_json(own_resource(session, who.tenant_id, resource_id))


@falcon.before(authenticate)
class TimeOffResource(SchedulingResource):
    """GET lists days off (``resource_id`` filters; business-wide entries are always included); POST adds one."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        resource_id = query_uuid(req, "resource_id")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            rows = queries.list_time_off(session, tenant_id=who.tenant_id, resource_id=resource_id, business_wide=True)
            resp.media = {"items": [time_off_json(row) for row in rows]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, TimeOffBody)
            if new.resource_id is not None:
                own_resource(session, who.tenant_id, new.resource_id)
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
        service_item_id = query_uuid(req, "service_item_id", required=True)
        assert service_item_id is not None
        resource_id = query_uuid(req, "resource_id")
        limit = query_int(req, "limit", min_value=1, max_value=100, default=10)
        start = query_datetime(req, "from") or now
        if start > now + HORIZON:
            raise ApiError(falcon.HTTP_400, "malformed", f"from: must be within {HORIZON.days} days of now")
        end = query_datetime(req, "to") or start + DEFAULT_WINDOW
        if end <= start:
            raise ApiError(falcon.HTTP_400, "malformed", "to: must be after from")
        if end - start > MAX_WINDOW:
            raise ApiError(falcon.HTTP_400, "malformed", f"to: the window is at most {MAX_WINDOW.days} days")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            item = active_quote(session, who.tenant_id, service_item_id)
            if resource_id is not None:
                own_resource(session, who.tenant_id, resource_id)
            tenant = identity.get_tenant(session, who.tenant_id)
            zone = ZoneInfo(tenant.timezone if tenant is not None else "UTC")
            preference = preference_from(req, now.astimezone(zone).date())
            # The past is never bookable: search from now, but answer with the window that was asked for.
            window_start = max(start, now)
            slots = (
                scheduling.find_slots(
                    session,
                    scheduling.SlotSearch(
                        service_item_id=item.service_item_id,
                        duration_minutes=item.duration_minutes,
                        window_start=window_start,
                        window_end=end,
                        preference=preference,
                        limit=limit,
                        resource_id=resource_id,
                    ),
                    tenant_id=who.tenant_id,
                    now=now,
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
            "preference": preference_json(preference),
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
            item, starts_at, ends_at = requested_slot(session, who.tenant_id, new, now)
            try:
                hold = scheduling.place_hold(
                    session,
                    SlotRequest(
                        new.resource_id,
                        item.service_item_id,
                        starts_at,
                        ends_at,
                        customer_phone=new.customer_phone,
                        conversation_id=new.conversation_id,
                    ),
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    now=now,
                    ttl_minutes=self.settings.hold_ttl_minutes,
                )
            except SlotUnavailable as error:
                raise SlotConflict(error) from None
            return 201, hold_json(hold)

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class HoldActionResource(SchedulingResource):
    """POST /v1/holds/{id}/confirm ⇒ an appointment at the catalog price; POST /v1/holds/{id}/release."""

    def on_post_confirm(self, req: falcon.Request, resp: falcon.Response, hold_id: uuid.UUID) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            hold = own_hold(session, who.tenant_id, hold_id)
            confirm = parse_model(body, ConfirmBody)
            if confirm.customer_phone is None and hold.customer_phone is None:
                raise ApiError(falcon.HTTP_422, "validation_failed", "customer_phone: the hold has none; give one")
            try:
                booked = confirm_hold_at_catalog_price(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    hold_id=hold_id,
                    now=now,
                    customer_phone=confirm.customer_phone,
                )
            except catalog.ServiceItemNotFound:
                raise ApiError(falcon.HTTP_409, "conflict", "the held service item no longer exists") from None
            except HoldNotFound as error:
                raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
            except SlotUnavailable as error:
                raise SlotConflict(error) from None
            return 201, appointment_json(booked.appointment)

        run_post(req, resp, self.sessions, act)

    def on_post_release(self, req: falcon.Request, resp: falcon.Response, hold_id: uuid.UUID) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            own_hold(session, who.tenant_id, hold_id)
            release = parse_model(body, ReleaseBody)
            released = scheduling.release_hold(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                hold_id=hold_id,
                reason=release.reason,
                now=now,
            )
            return 200, hold_json(released)

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
        start = query_datetime(req, "from")
        end = query_datetime(req, "to")
        phone = req.get_param("customer_phone")
        limit = query_int(req, "limit", min_value=1, max_value=200, default=50)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            rows = queries.list_appointments(
                session,
                tenant_id=who.tenant_id,
                status=status,
                customer_phone=phone,
                ends_after=start,
                starts_before=end,
                limit=limit,
            )
            resp.media = {"items": [appointment_json(row) for row in rows]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, BookBody)
            appointment = writes.book(session, request_events(req, session), who.tenant_id, new, now)
            return 201, appointment_json(appointment)

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class AppointmentResource(SchedulingResource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = queries.find_appointment(session, tenant_id=who.tenant_id, appointment_id=appointment_id)
            if row is None:
                raise ApiError(falcon.HTTP_404, "not_found", f"appointment {appointment_id} not found")
            resp.media = appointment_json(row)


@falcon.before(authenticate)
class AppointmentActionResource(SchedulingResource):
    """POST /v1/appointments/{id}/cancel ⇒ ``AppointmentCancelled`` (twice changes nothing);
    POST /v1/appointments/{id}/reschedule ⇒ ``AppointmentRescheduled``, or 409 with alternatives."""

    def on_post_cancel(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            try:
                cancel = parse_model(body, CancelBody)
                row = scheduling.cancel_appointment(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    appointment_id=appointment_id,
                    reason=cancel.reason,
                    now=now,
                )
                return 200, appointment_json(row)
            except AppointmentNotFound as error:
                raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None
            except AppointmentNotBooked as error:
                raise ApiError(falcon.HTTP_409, "not_booked", str(error)) from None

        run_post(req, resp, self.sessions, act)

    def on_post_reschedule(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        now = datetime.now(UTC)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            move = parse_model(body, RescheduleBody)
            row = writes.reschedule(
                session,
                request_events(req, session),
                who.tenant_id,
                appointment_id,
                starts_at=move.starts_at,
                resource_id=move.resource_id,
                now=now,
            )
            return 200, appointment_json(row)

        run_post(req, resp, self.sessions, act)
