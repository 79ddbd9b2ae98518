"""Settings → Technicians: the tenant's resources, which services each does, weekly hours per weekday, time off and
per-date hours, through ``domain.scheduling.service`` (the use cases behind ``/v1/resources`` and ``/v1/time-off``)
and its read queries. Availability reads the same rows, so the AI offers the new hours from the next question on."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta

import falcon
from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from domain.scheduling import credentials, queries
from domain.scheduling import service as scheduling
from domain.scheduling.availability import WEEKDAYS, Shift
from ingress.api.base import as_uuid, caller
from ingress.api.scheduling.lookups import own_resource
from ingress.errors import ApiError
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.settings.forms import Form, Invalid, clock_ranges, parse_settings_form
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen

HOURS_FIELDS = tuple(f"hours_{day}" for day in range(7))
HOURS_HINT = "e.g. 08:00-17:00, or 08:00-12:00, 13:00-17:00 for a split day; empty = not working"
MAX_TIME_OFF_DAYS = 366  # as /v1/time-off
HORIZON = timedelta(days=730)
SAVED = {
    "created": "Technician added. Set their hours below: without hours they are never offered.",
    "services": "Services saved.",
    "hours": "Weekly hours saved.",
    "time-off": "Time off added.",
    "time-off-removed": "Time off removed.",
    "date-hours": "Hours for that date saved.",
    "calendar": "Calendar linked: bookings are written to it from now on.",
}
CALENDAR_FIELDS = ("provider", "external_ref", "access_token", "refresh_token", "jobber_job_id")
CALENDAR_LABELS = {
    "provider": "Calendar",
    "external_ref": "Calendar id",
    "access_token": "Access token",
    "refresh_token": "Refresh token",
    "jobber_job_id": "Jobber job",
}


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _ranges(form: Form, name: str, label: str) -> list[tuple[time, time]]:
    parsed = clock_ranges(form.get(name))
    if parsed is None:
        form.fail(name, f"{label}: {HOURS_HINT}")
        return []
    ranges = sorted((_clock(start), _clock(end)) for start, end in parsed)
    if any(end <= start for start, end in ranges):
        form.fail(name, f"{label}: each end must be after its start")
    elif any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ranges)):
        form.fail(name, f"{label}: the shifts overlap")
    return ranges


def _day(form: Form, name: str, label: str, today: date) -> date | None:
    try:
        value = date.fromisoformat(form.get(name).strip())
    except ValueError:
        form.fail(name, f"{label}: a date like 2030-01-31")
        return None
    if not today - HORIZON <= value <= today + HORIZON:
        form.fail(name, f"{label}: within two years of today")
        return None
    return value


def _hours_text(shifts: list[Shift] | list[queries.DateHoursRecord]) -> str:
    return ", ".join(f"{shift.starts_local:%H:%M}-{shift.ends_local:%H:%M}" for shift in shifts)


def _own_resource(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> queries.ResourceRecord:
    return own_resource(session, tenant_id, resource_id)  # another tenant's is not found: a 404


@owner_screen
class TechniciansResource(SettingsScreen):
    """GET /app/settings/technicians: the technicians and a form to add one; POST adds one."""

    section = "technicians"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._list(req, resp, Form(), notice=SAVED.get(req.get_param("saved") or ""))

    def _list(self, req: falcon.Request, resp: falcon.Response, form: Form, *, status: str = falcon.HTTP_200,
              notice: str | None = None) -> None:  # fmt: skip
        who = caller(req)
        with self.transaction(req) as session:
            rows = scheduling.list_resources(session, tenant_id=who.tenant_id)
            names = {item.id: item.name for item in catalog.list_service_items(session, tenant_id=who.tenant_id)}
        technicians = [
            {
                "resource": row,
                "services": [names[item] for item in row.service_item_ids if item in names],
                "days": [WEEKDAYS[day][:3].title() for day in sorted({shift.weekday for shift in row.working_hours})],
            }
            for row in rows
        ]
        self.show(req, resp, "technicians.html", status=status, form=form, technicians=technicians, notice=notice)

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        form = Form.owning(req, ("name",))
        name = form.text("name", "Name", limit=200)
        try:
            form.check()
        except Invalid as invalid:
            self._list(req, resp, invalid.form, status=falcon.HTTP_422)
            return
        assert name is not None
        with self.transaction(req) as session:
            # Hours are written in the business's zone (scheduling keeps it on the resource).
            row = scheduling.create_resource(
                session, tenant_id=who.tenant_id, name=name, timezone=getattr(req.context, "tenant_timezone", "UTC")
            )
        raise falcon.HTTPSeeOther(f"/app/settings/technicians/{row.id}?saved=created")


@owner_screen
class TechnicianResource(SettingsScreen):
    """GET /app/settings/technicians/{id}: services, weekly hours, time off and per-date hours, each its own form
    (POST …/services, …/hours, …/time-off, …/time-off/{id}/remove, …/date-hours)."""

    section = "technicians"
    # Set by the routes: the tokens a form links are sealed with the deployment's key.
    credential_box = credentials.CredentialBox("")
    # Outside live mode, the access tokens the sandbox's calendar stand-ins accept (shown beside the form).
    sandbox_calendar_tokens: dict[str, str] | None = None

    def on_get(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        self._detail(req, resp, resource_id, notice=SAVED.get(req.get_param("saved") or ""))

    def _detail(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID, *,
                failed: tuple[str, Form] | None = None, notice: str | None = None) -> None:  # fmt: skip
        who = caller(req)
        today = datetime.now(UTC).date()
        with self.transaction(req) as session:
            record = _own_resource(session, who.tenant_id, resource_id)
            items = catalog.list_service_items(session, tenant_id=who.tenant_id)
            time_off = [
                off
                for off in queries.list_time_off(
                    session, tenant_id=who.tenant_id, resource_id=resource_id, business_wide=False
                )
                if off.last_day >= today
            ]
            dated = queries.list_date_hours(session, tenant_id=who.tenant_id, resource_id=resource_id, from_day=today)
            linked = [
                item
                for item in credentials.linked_calendars(session, tenant_id=who.tenant_id)
                if item.resource_id == resource_id
            ]
        by_day: dict[date, list[queries.DateHoursRecord]] = {}
        for entry in dated:
            by_day.setdefault(entry.day, []).append(entry)
        forms = {"services": Form(), "hours": Form(), "time_off": Form(), "date_hours": Form(), "calendar": Form()}
        if failed is not None:
            forms[failed[0]] = failed[1]
        self.show(
            req,
            resp,
            "technician.html",
            status=falcon.HTTP_422 if failed else falcon.HTTP_200,
            technician=record,
            items=items,
            offered=set(record.service_item_ids),
            weekly={
                f"hours_{day}": _hours_text([s for s in record.working_hours if s.weekday == day]) for day in range(7)
            },
            weekdays=[(f"hours_{day}", WEEKDAYS[day].title()) for day in range(7)],
            time_off=time_off,
            date_hours=[(day, _hours_text(entries)) for day, entries in sorted(by_day.items())],
            forms=forms,
            hours_hint=HOURS_HINT,
            calendars=linked,
            sandbox_calendar_tokens=self.sandbox_calendar_tokens,
            notice=notice,
        )

    def _done(self, resource_id: uuid.UUID, saved: str) -> None:
        raise falcon.HTTPSeeOther(f"/app/settings/technicians/{resource_id}?saved={saved}")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_services(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        form = Form.owning(req, (), multi=("service",))
        wanted: set[uuid.UUID] = set()
        for value in form.lists["service"]:
            item_id = as_uuid(value)
            if item_id is None:
                raise ApiError(falcon.HTTP_400, "malformed", "service: not a service id")
            wanted.add(item_id)
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            own = {item.id for item in catalog.list_service_items(session, tenant_id=who.tenant_id)}
            if wanted - own:
                raise ApiError(falcon.HTTP_404, "not_found", "no such service in this business's price list")
            scheduling.set_resource_services(
                session, tenant_id=who.tenant_id, resource_id=resource_id, service_item_ids=wanted
            )
        self._done(resource_id, "services")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_hours(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        form = Form.owning(req, HOURS_FIELDS)
        shifts = [
            Shift(day, start, end)
            for day in range(7)
            for start, end in _ranges(form, f"hours_{day}", WEEKDAYS[day].title())
        ]
        if form.errors:
            self._detail(req, resp, resource_id, failed=("hours", form))
            return
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            scheduling.set_working_hours(session, tenant_id=who.tenant_id, resource_id=resource_id, shifts=shifts)
        self._done(resource_id, "hours")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_time_off(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        form = Form.owning(req, ("first_day", "last_day", "reason"))
        today = datetime.now(UTC).date()
        first = _day(form, "first_day", "First day", today)
        last = _day(form, "last_day", "Last day", today) if form.get("last_day").strip() else first
        reason = form.text("reason", "Reason", limit=200, required=False)
        if first is not None and last is not None:
            if last < first:
                form.fail("last_day", "Last day: on or after the first day")
            elif (last - first).days >= MAX_TIME_OFF_DAYS:
                form.fail("last_day", f"Last day: at most {MAX_TIME_OFF_DAYS} days after the first")
        if form.errors or first is None or last is None:
            self._detail(req, resp, resource_id, failed=("time_off", form))
            return
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            scheduling.add_time_off(
                session, tenant_id=who.tenant_id, resource_id=resource_id, first_day=first, last_day=last,
                reason=reason,
            )  # fmt: skip
        self._done(resource_id, "time-off")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_remove_time_off(
        self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID, time_off_id: uuid.UUID
    ) -> None:
        who = caller(req)
        Form.owning(req, ())
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            entries = queries.list_time_off(
                session, tenant_id=who.tenant_id, resource_id=resource_id, business_wide=False
            )
            if time_off_id not in {entry.id for entry in entries} or not scheduling.remove_time_off(
                session, tenant_id=who.tenant_id, time_off_id=time_off_id
            ):
                raise ApiError(falcon.HTTP_404, "not_found", "no such time off for this technician")
        self._done(resource_id, "time-off-removed")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_date_hours(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        who = caller(req)
        form = Form.owning(req, ("day", "hours"))
        day = _day(form, "day", "Date", datetime.now(UTC).date())
        ranges = _ranges(form, "hours", "Hours that day")
        if form.errors or day is None:
            self._detail(req, resp, resource_id, failed=("date_hours", form))
            return
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            scheduling.set_date_hours(session, tenant_id=who.tenant_id, resource_id=resource_id, day=day, shifts=ranges)
        self._done(resource_id, "date-hours")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_calendar(self, req: falcon.Request, resp: falcon.Response, resource_id: uuid.UUID) -> None:
        """Link the technician's Google Calendar or Jobber with OAuth tokens (stored encrypted, never shown again)."""
        who = caller(req)
        form = Form.owning(req, CALENDAR_FIELDS)
        with self.transaction(req) as session:
            _own_resource(session, who.tenant_id, resource_id)
            try:
                with session.begin_nested():
                    credentials.link_calendar(
                        session,
                        tenant_id=who.tenant_id,
                        resource_id=resource_id,
                        provider=form.get("provider"),
                        external_ref=form.get("external_ref"),
                        access_token=form.get("access_token"),
                        refresh_token=form.get("refresh_token") or None,
                        jobber_job_id=form.get("jobber_job_id") or None,
                        box=self.credential_box,
                    )
            except credentials.InvalidCalendarLink as error:
                label = CALENDAR_LABELS.get(error.field, error.field.replace("_", " ").capitalize())
                form.fail(error.field if error.field in CALENDAR_FIELDS else "provider", f"{label}: {error.message}")
        if form.errors:
            form.values.pop("access_token", None)  # a token is never sent back to the browser
            form.values.pop("refresh_token", None)
            self._detail(req, resp, resource_id, failed=("calendar", form))
            return
        self._done(resource_id, "calendar")
