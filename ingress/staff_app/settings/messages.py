"""Settings → Messages & numbers: the tenant's first message, after-hours message and HELP answer, the number calls
ring first, the owner's mobile for alerts and whether the AI answers Spanish-speaking callers in Spanish, through
``identity.update_tenant_messaging`` (what ``nmc tenant update`` calls), and the callback grace period
(``identity.update_callback_grace``, ``--callback-grace``). Every field is checked by identity's own rules and a
wrong one is named beside it."""

from __future__ import annotations

import falcon

from domain.identity import service as identity
from ingress.api.base import caller
from ingress.errors import ApiError
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.settings.forms import Form, parse_settings_form
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen

TEMPLATES = ("first_message", "after_hours", "help_text")
NUMBERS = ("forward_to", "owner_mobile")
SPANISH = "spanish_replies"  # a checkbox: sent ("on") when ticked, absent when not
GRACE = "callback_grace_seconds"


@owner_screen
class MessagesResource(SettingsScreen):
    section = "messages"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        notice = "Saved. The next caller gets the new texts." if req.get_param("saved") == "1" else None
        self._page(req, resp, Form(), notice=notice)

    def _page(self, req: falcon.Request, resp: falcon.Response, form: Form, *, status: str = falcon.HTTP_200,
              notice: str | None = None) -> None:  # fmt: skip
        with self.transaction(req) as session:
            current = identity.tenant_messaging(session, caller(req).tenant_id)
            grace = identity.callback_grace_seconds(session, caller(req).tenant_id)
        if current is None:
            raise ApiError(falcon.HTTP_404, "not_found", "this business is not found")
        values = {
            "first_message": current.first_message,
            "after_hours": current.after_hours,
            "help_text": current.help_text,
            "forward_to": current.forward_to,
            "owner_mobile": current.owner_mobile or "",
            SPANISH: form.values.get(SPANISH) == "on" if form.errors else current.spanish_replies,
            GRACE: str(grace),
        }
        self.show(req, resp, "messages.html", status=status, form=form, current=values, notice=notice,
                  limit=identity.MAX_TEMPLATE_CHARS)  # fmt: skip

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = Form.owning(req, (*TEMPLATES, *NUMBERS, SPANISH, GRACE))
        missing = [name for name in (*TEMPLATES, "forward_to") if name not in form.values]
        if missing:
            raise ApiError(falcon.HTTP_400, "malformed", f"the form is missing {', '.join(missing)}")
        # Each field through identity's own check, so every wrong one is named at once; update re-checks them.
        for name in TEMPLATES:
            self._check(form, name, lambda value, name=name: identity.check_template(name, value))
        self._check(form, "forward_to", lambda value: identity.check_number("forward_to", value))
        if form.get(SPANISH) not in ("", "on"):
            form.fail(SPANISH, f"{LABELS[SPANISH]}: tick the box or leave it empty")
        mobile = form.get("owner_mobile").strip()
        if mobile:
            self._check(form, "owner_mobile", lambda value: identity.check_number("owner_mobile", value))
        # The grace field is optional in a post (a form from before it existed leaves the setting as it is).
        grace = form.values.get(GRACE)
        if grace is not None:
            self._check(form, GRACE, identity.check_callback_grace)
        if form.errors:
            self._page(req, resp, form, status=falcon.HTTP_422)
            return
        with self.transaction(req) as session:
            identity.update_tenant_messaging(
                session,
                tenant_id=caller(req).tenant_id,
                first_message=form.get("first_message"),
                after_hours=form.get("after_hours"),
                help_text=form.get("help_text"),
                forward_to=form.get("forward_to"),
                owner_mobile=mobile or None,
                clear_owner_mobile=not mobile,
                spanish_replies=form.get(SPANISH) == "on",
            )
            if grace is not None:
                identity.update_callback_grace(session, tenant_id=caller(req).tenant_id, seconds=grace)
        raise falcon.HTTPSeeOther("/app/settings/messages?saved=1")

    @staticmethod
    def _check(form: Form, name: str, check: object) -> None:
        try:
            check(form.get(name))  # type: ignore[operator]
        except identity.InvalidField as error:
            form.fail(name, f"{LABELS[name]}: {error.message}")


LABELS = {
    "first_message": "First message",
    "after_hours": "After-hours message",
    "help_text": "HELP answer",
    "forward_to": "Forward calls to",
    "owner_mobile": "Owner's mobile",
    SPANISH: "Spanish",
    GRACE: "Wait for a callback",
}
