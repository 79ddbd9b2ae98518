"""The bookings screen: a day view (every technician side by side) and a week view (one technician, seven days) of
appointments, holds and external busy time in the tenant's time zone, and the forms that book, cancel and
reschedule. Scheduling is reached only through ``ingress.staff_app.bookings``.

Days are the tenant's local days: the window is local midnight to the next local midnight, converted to UTC, so an
appointment at 23:30 in Los Angeles is on that day even though it is tomorrow in UTC. A refused slot answers 409
with the open alternatives, each a one-click form. OWNER and TECH may do all of it, as in the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import falcon
from sqlalchemy.orm import Session

from domain.phones import to_e164
from domain.scheduling.agenda import AgendaEntry
from domain.scheduling.availability import Slot
from domain.scheduling.queries import AppointmentRecord, ResourceRecord
from ingress.api.base import as_uuid, caller, request_events
from ingress.api.scheduling.schemas import HORIZON
from ingress.api.scheduling.serializers import SlotConflict
from ingress.errors import ApiError
from ingress.staff_app import bookings
from ingress.staff_app.auth import authenticate_staff
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.pages import parse_form
from ingress.staff_app.screens import Screen

VIEWS = ("day", "week")
DONE = {"booked": "Booked.", "cancelled": "Cancelled.", "rescheduled": "Rescheduled."}
REASONS = {
    "conflict": "another appointment or hold overlaps it",
    "held": "someone is holding that time for a caller",
    "external_busy": "the technician's calendar is busy then",
    "outside_hours": "it is outside the technician's working hours (or a day off)",
    "too_soon": "it is sooner than the technician's minimum notice",
    "resource_unavailable": "that technician is inactive or does not do this service",
}
KIND_LABELS = {"appointment": "Appointment", "hold": "Held", "busy": "Busy"}
MAX_REASON = 500


# --- time in the tenant's zone -------------------------------------------------------------------------------------


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local day begins (midnight exists in every zone the scheduler supports; where a DST jump
    skips it, fold=0 gives the instant after the gap)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%-I:%M %p")


def day_label(day: date) -> str:
    return day.strftime("%a %b %-d")


@dataclass(frozen=True)
class Block:
    """One entry as the calendar shows it in one day's column."""

    entry: AgendaEntry
    kind_label: str
    when: str  # "9:00 AM – 10:00 AM", with the date where it runs over midnight
    service: str
    price: str
    resource: str


@dataclass
class Column:
    heading: str
    day: date
    resource: ResourceRecord | None
    hours: str
    blocks: list[Block] = field(default_factory=list)


def _when(entry: AgendaEntry, day: date, zone: ZoneInfo) -> str:
    if entry.kind == "busy" and entry.all_day:
        return "All day"
    start, end = entry.starts_at.astimezone(zone), entry.ends_at.astimezone(zone)
    first = clock(start, zone) if start.date() == day else f"{day_label(start.date())} {clock(start, zone)}"
    last_day = (end - timedelta(microseconds=1)).date()
    last = clock(end, zone) if last_day == day else f"{day_label(end.date())} {clock(end, zone)}"
    return f"{first} – {last}"


def _days_of(entry: AgendaEntry, zone: ZoneInfo) -> list[date]:
    """The local days an entry overlaps (its end is exclusive: ending at midnight is not on the next day)."""
    first = entry.starts_at.astimezone(zone).date()
    last = (entry.ends_at.astimezone(zone) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _hours(resource: ResourceRecord, day: date, zone_name: str) -> str:
    shifts = [shift for shift in resource.working_hours if shift.weekday == day.weekday()]
    if not shifts:
        return "Not working"
    text = ", ".join(
        f"{shift.starts_local.strftime('%-I:%M %p')} – {shift.ends_local.strftime('%-I:%M %p')}" for shift in shifts
    )
    return text if resource.timezone == zone_name else f"{text} ({resource.timezone})"


def _money(cents: int | None, currency: str | None) -> str:
    if cents is None:
        return ""
    return f"${cents / 100:,.2f}" if currency in (None, "USD") else f"{cents / 100:,.2f} {currency}"


# --- reading query strings and forms -------------------------------------------------------------------------------


def _query_day(req: falcon.Request, today: date) -> date:
    raw = req.get_param("date")
    if raw is None or raw == "":
        return today
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(falcon.HTTP_400, "malformed", "date: a date YYYY-MM-DD") from None
    if abs(day - today) > HORIZON:
        raise ApiError(falcon.HTTP_400, "malformed", f"date: must be within {HORIZON.days} days of today")
    return day


def _query_id(req: falcon.Request, name: str) -> uuid.UUID | None:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return None
    found = as_uuid(raw)
    if found is None:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: not a valid id")
    return found


def _form_id(form: dict[str, str], name: str) -> uuid.UUID:
    found = as_uuid(form.get(name, ""))
    if found is None:
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: required (a valid id)")
    return found


def _form_slot(form: dict[str, str]) -> tuple[uuid.UUID, datetime]:
    """``slot`` is ``<resource id>@<ISO start with offset>``, as the slot pickers write it."""
    resource_raw, _, start_raw = form.get("slot", "").partition("@")
    resource_id = as_uuid(resource_raw)
    if resource_id is None or not start_raw:
        raise ApiError(falcon.HTTP_400, "malformed", "slot: choose one of the open times")
    try:
        starts_at = datetime.fromisoformat(start_raw)
    except ValueError:
        raise ApiError(falcon.HTTP_400, "malformed", "slot: choose one of the open times") from None
    if starts_at.tzinfo is None:
        raise ApiError(falcon.HTTP_400, "malformed", "slot: a start time with its offset")
    return resource_id, starts_at.astimezone(UTC)


def customer_phone(raw: str) -> str:
    """What staff type ("(310) 555-0199", "310 555 0199", "+1 310…") as E.164, read by the one normaliser
    (``domain.phones``, US by default like the business's own number). Anything else is a 422 saying what to write."""
    e164 = to_e164(raw.strip())
    if e164 is None:
        raise ApiError(
            falcon.HTTP_422, "validation_failed", "customer_phone: a phone number, e.g. (310) 555-0199 or +13105550199"
        )
    return e164


def slot_value(slot: Slot | dict[str, Any]) -> str:
    if isinstance(slot, Slot):
        return f"{slot.resource_id}@{slot.starts_at.isoformat()}"
    return f"{slot['resource_id']}@{slot['starts_at']}"


# --- the screens ---------------------------------------------------------------------------------------------------


class _BookingScreen(Screen):
    def _zone(self, req: falcon.Request) -> ZoneInfo:
        return ZoneInfo(getattr(req.context, "tenant_timezone", "UTC"))

    def _names(self, session: Session, tenant_id: uuid.UUID) -> tuple[list[ResourceRecord], dict[str, str]]:
        found = bookings.resources(session, tenant_id)
        return found, {str(row.id): row.name for row in found}

    def _slot_groups(
        self, slots: list[Slot], names: dict[str, str], zone: ZoneInfo
    ) -> list[tuple[str, list[tuple[str, str]]]]:
        """Open slots per technician: (name, [(value, "9:00 AM"), …])."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for slot in slots:
            groups.setdefault(names.get(str(slot.resource_id), "?"), []).append(
                (slot_value(slot), clock(slot.starts_at, zone))
            )
        return sorted(groups.items())

    def _conflict(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        error: SlotConflict,
        *,
        action: str,
        hidden: dict[str, str],
        back: str,
    ) -> None:
        who = caller(req)
        with self.transaction(req) as session:
            _, names = self._names(session, who.tenant_id)
        zone = self._zone(req)
        alternatives = [
            {
                "value": slot_value(alt),
                "resource": names.get(alt["resource_id"], "?"),
                "label": datetime.fromisoformat(alt["starts_at"]).astimezone(zone).strftime("%a %b %-d, %-I:%M %p"),
            }
            for alt in error.alternatives
        ]
        resp.status = falcon.HTTP_409
        self.pages.render(
            req,
            resp,
            "bookings_conflict.html",
            active="bookings",
            reason=REASONS.get(error.reason, error.reason),
            alternatives=alternatives,
            action=action,
            hidden=hidden,
            back=back,
        )


@falcon.before(authenticate_staff)
class BookingsResource(_BookingScreen):
    """GET /app/bookings (the calendar: ``view`` day|week, ``date``, ``resource``); GET /app/bookings/new (pick a
    service, a technician and a day, then an open time); POST /app/bookings (book it)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)
        view = req.get_param("view") or "day"
        if view not in VIEWS:
            raise ApiError(falcon.HTTP_400, "malformed", "view: day or week")
        chosen = _query_id(req, "resource")
        done = req.get_param("done")
        with self.transaction(req) as session:
            zone = self._zone(req)
            today = now.astimezone(zone).date()
            day = _query_day(req, today)
            resources, _names = self._names(session, who.tenant_id)
            by_id = {row.id: row for row in resources}
            if chosen is not None and chosen not in by_id:
                raise ApiError(falcon.HTTP_404, "not_found", f"resource {chosen} not found")
            if view == "week":
                first = day - timedelta(days=day.weekday())
                days = [first + timedelta(days=n) for n in range(7)]
                if chosen is None:
                    active = [row for row in resources if row.active] or resources
                    chosen = active[0].id if active else None
                shown = [by_id[chosen]] if chosen is not None else []
            else:
                days = [day]
                shown = [by_id[chosen]] if chosen is not None else [row for row in resources if row.active]
            entries = (
                bookings.calendar(
                    session,
                    who.tenant_id,
                    window_start=local_midnight(days[0], zone),
                    window_end=local_midnight(days[-1] + timedelta(days=1), zone),
                    now=now,
                    resource_ids=[row.id for row in shown],
                )
                if shown
                else []
            )
            services = {item.id: item for item in bookings.services(session, who.tenant_id)}
        zone_name = str(zone.key)
        columns = (
            [Column(day_label(d), d, shown[0], _hours(shown[0], d, zone_name)) for d in days]
            if view == "week" and shown
            else [Column(row.name, day, row, _hours(row, day, zone_name)) for row in shown]
        )
        index = {(column.day, column.resource.id if column.resource else None): column for column in columns}
        for entry in entries:
            for entry_day in _days_of(entry, zone):
                column = index.get((entry_day, entry.resource_id))
                if column is None:
                    continue
                item = services.get(entry.service_item_id) if entry.service_item_id else None
                column.blocks.append(
                    Block(
                        entry,
                        KIND_LABELS[entry.kind],
                        _when(entry, entry_day, zone),
                        item.name if item else ("External calendar" if entry.kind == "busy" else "?"),
                        _money(entry.price_cents, entry.currency),
                        by_id[entry.resource_id].name if entry.resource_id in by_id else "?",
                    )
                )
        step = timedelta(days=7 if view == "week" else 1)
        self.pages.render(
            req,
            resp,
            "bookings.html",
            active="bookings",
            view=view,
            day=day,
            day_title=day_label(day) if view == "day" else f"Week of {day_label(days[0])}",
            today=today,
            previous=(day - step).isoformat(),
            following=(day + step).isoformat(),
            resources=resources,
            chosen=chosen,
            columns=columns,
            zone_name=zone_name,
            done=DONE.get(done or ""),
        )

    def on_get_new(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)
        service_id = _query_id(req, "service")
        resource_id = _query_id(req, "resource")
        with self.transaction(req) as session:
            zone = self._zone(req)
            today = now.astimezone(zone).date()
            day = _query_day(req, today)
            resources, names = self._names(session, who.tenant_id)
            if resource_id is not None:
                bookings.resource(session, who.tenant_id, resource_id)
            services = [item for item in bookings.services(session, who.tenant_id) if item.active]
            item = bookings.quote(session, who.tenant_id, service_id) if service_id is not None else None
            slots = (
                bookings.open_slots(
                    session,
                    who.tenant_id,
                    service_item_id=item.service_item_id,
                    duration_minutes=item.duration_minutes,
                    resource_id=resource_id,
                    window_start=local_midnight(day, zone),
                    window_end=local_midnight(day + timedelta(days=1), zone),
                    now=now,
                )
                if item is not None
                else []
            )
        self.pages.render(
            req,
            resp,
            "bookings_new.html",
            active="bookings",
            services=services,
            resources=[row for row in resources if row.active],
            service_id=service_id,
            resource_id=resource_id,
            item=item,
            day=day,
            day_title=day_label(day),
            today=today,
            groups=self._slot_groups(slots, names, zone),
            phone=req.get_param("customer_phone") or "",
        )

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        now = datetime.now(UTC)
        form = req.context.form
        service_id = _form_id(form, "service_item_id")
        resource_id, starts_at = _form_slot(form)
        phone = customer_phone(form.get("customer_phone", ""))
        try:
            with self.transaction(req) as session:
                booked = bookings.book(
                    session,
                    request_events(req, session),
                    who.tenant_id,
                    resource_id=resource_id,
                    service_item_id=service_id,
                    starts_at=starts_at,
                    customer_phone=phone,
                    now=now,
                )
                zone = self._zone(req)
        except SlotConflict as error:
            self._conflict(
                req,
                resp,
                error,
                action="/app/bookings",
                hidden={"service_item_id": str(service_id), "customer_phone": phone},
                back=f"/app/bookings/new?service={service_id}",
            )
            return
        raise falcon.HTTPSeeOther(_back_to(booked, zone, "booked"))


def _back_to(row: AppointmentRecord, zone: ZoneInfo, done: str) -> str:
    return f"/app/bookings?date={row.starts_at.astimezone(zone).date().isoformat()}&done={done}"


@falcon.before(authenticate_staff)
class AppointmentResource(_BookingScreen):
    """POST /app/bookings/{id}/cancel; GET /app/bookings/{id}/reschedule (open times for the same service and
    length) and POST it."""

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_cancel(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        reason = req.context.form.get("reason", "").strip() or "cancelled in the staff app"
        if len(reason) > MAX_REASON:
            raise ApiError(falcon.HTTP_422, "validation_failed", f"reason: at most {MAX_REASON} characters")
        with self.transaction(req) as session:
            row = bookings.cancel(
                session,
                request_events(req, session),
                who.tenant_id,
                appointment_id=appointment_id,
                reason=reason,
                now=datetime.now(UTC),
            )
            zone = self._zone(req)
        raise falcon.HTTPSeeOther(_back_to(row, zone, "cancelled"))

    def on_get_reschedule(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        now = datetime.now(UTC)
        with self.transaction(req) as session:
            zone = self._zone(req)
            row = bookings.find_appointment(session, who.tenant_id, appointment_id)
            today = now.astimezone(zone).date()
            day = (
                _query_day(req, row.starts_at.astimezone(zone).date())
                if req.get_param("date")
                else max(today, row.starts_at.astimezone(zone).date())
            )
            _resources, names = self._names(session, who.tenant_id)
            services = {item.id: item for item in bookings.services(session, who.tenant_id)}
            slots = (
                bookings.open_slots(
                    session,
                    who.tenant_id,
                    service_item_id=row.service_item_id,
                    duration_minutes=int((row.ends_at - row.starts_at).total_seconds() // 60),
                    resource_id=None,
                    window_start=local_midnight(day, zone),
                    window_end=local_midnight(day + timedelta(days=1), zone),
                    now=now,
                )
                if row.status == "booked"
                else []
            )
        service = services.get(row.service_item_id)
        self.pages.render(
            req,
            resp,
            "bookings_reschedule.html",
            active="bookings",
            appointment=row,
            service_name=service.name if service else "?",
            resource_name=names.get(str(row.resource_id), "?"),
            when=row.starts_at.astimezone(zone).strftime("%a %b %-d, %-I:%M %p"),
            day=day,
            day_title=day_label(day),
            groups=self._slot_groups(slots, names, zone),
        )

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_reschedule(self, req: falcon.Request, resp: falcon.Response, appointment_id: uuid.UUID) -> None:
        who = caller(req)
        resource_id, starts_at = _form_slot(req.context.form)
        try:
            with self.transaction(req) as session:
                row = bookings.reschedule(
                    session,
                    request_events(req, session),
                    who.tenant_id,
                    appointment_id=appointment_id,
                    starts_at=starts_at,
                    resource_id=resource_id,
                    now=datetime.now(UTC),
                )
                zone = self._zone(req)
        except SlotConflict as error:
            self._conflict(
                req,
                resp,
                error,
                action=f"/app/bookings/{appointment_id}/reschedule",
                hidden={},
                back=f"/app/bookings/{appointment_id}/reschedule",
            )
            return
        raise falcon.HTTPSeeOther(_back_to(row, zone, "rescheduled"))


__all__ = ["AppointmentResource", "BookingsResource", "customer_phone", "local_midnight"]
