"""Settings → Reminders: when reminders go before an appointment (default 24 h and 2 h), the one follow-up to a
caller who never answered the first SMS (off by default), and whether a first SMS that falls in quiet hours waits
for the morning, through ``identity.lifecycle`` (what ``/v1/settings/lifecycle`` calls); each wrong field is named
beside it (422)."""

from __future__ import annotations

import falcon

from domain.identity import lifecycle
from domain.identity import service as identity
from ingress.api.base import caller
from ingress.errors import ApiError
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.settings.forms import Form, parse_settings_form
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen

FIELDS = ("reminder_hours", "follow_up_minutes", "first_sms_quiet_hours")


def hours_text(offsets: tuple[int, ...]) -> str:
    return ", ".join(f"{minutes / 60:g}" for minutes in offsets)


@owner_screen
class RemindersResource(SettingsScreen):
    section = "reminders"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        notice = "Saved. Reminders not yet sent follow the new settings." if req.get_param("saved") == "1" else None
        self._page(req, resp, Form(), notice=notice)

    def _page(self, req: falcon.Request, resp: falcon.Response, form: Form, *, status: str = falcon.HTTP_200,
              notice: str | None = None) -> None:  # fmt: skip
        with self.transaction(req) as session:
            current = lifecycle.lifecycle_settings(session, caller(req).tenant_id)
        if current is None:
            raise ApiError(falcon.HTTP_404, "not_found", "this business is not found")
        values = {
            "reminder_hours": hours_text(current.reminder_offsets_minutes),
            "follow_up_minutes": ""
            if current.follow_up_delay_minutes is None
            else str(current.follow_up_delay_minutes),
            "first_sms_quiet_hours": current.first_sms_quiet_hours,
        }
        self.show(req, resp, "reminders.html", status=status, form=form, current=values, notice=notice)

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = Form.owning(req, FIELDS)
        if "reminder_hours" not in form.values or "first_sms_quiet_hours" not in form.values:
            raise ApiError(falcon.HTTP_400, "malformed", "the form is missing reminder_hours or first_sms_quiet_hours")
        offsets: tuple[int, ...] = ()
        follow_up: int | None = None
        try:
            offsets = lifecycle.check_offsets(_hours(form.get("reminder_hours")))
        except (identity.InvalidField, ValueError):
            form.fail("reminder_hours", "Reminders: hours before the appointment, e.g. 24, 2 (at most four, each once, "
                      "from 0.1 to 168)")  # fmt: skip
        text = form.get("follow_up_minutes").strip()
        try:
            follow_up = lifecycle.check_follow_up(int(text)) if text else None
        except (identity.InvalidField, ValueError):
            form.fail("follow_up_minutes", "Follow-up: empty (off), or 15 to 10080 minutes after the first SMS")
        choice = form.get("first_sms_quiet_hours")
        if choice not in lifecycle.FIRST_SMS_CHOICES:
            form.fail("first_sms_quiet_hours", "First SMS in quiet hours: send it at once, or wait for the morning")
        if form.errors:
            self._page(req, resp, form, status=falcon.HTTP_422)
            return
        with self.transaction(req) as session:
            lifecycle.update_lifecycle_settings(
                session,
                tenant_id=caller(req).tenant_id,
                reminder_offsets_minutes=offsets,
                follow_up_delay_minutes=follow_up,
                first_sms_quiet_hours=choice,
            )
        raise falcon.HTTPSeeOther("/app/settings/reminders?saved=1")


def _hours(text: str) -> list[int]:
    """``24, 2`` → [1440, 120]; a value that is not a number raises ValueError."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return [round(float(part) * 60) for part in parts]
