"""What every settings section shares: OWNER only (a TECH is refused, and sees no link), the section navigation,
and rendering a section's page with its forms (a form with errors is shown again with status 422)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import falcon

from ingress.staff_app.auth import authenticate_staff, require_owner
from ingress.staff_app.screens import Screen
from ingress.staff_app.settings.forms import Form

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    href: str


SECTIONS = (
    Section("overview", "Overview", "/app/settings"),
    Section("catalog", "Price list", "/app/settings/catalog"),
    Section("technicians", "Technicians", "/app/settings/technicians"),
    Section("messages", "Messages & numbers", "/app/settings/messages"),
    Section("reminders", "Reminders", "/app/settings/reminders"),
    Section("team", "Team", "/app/settings/team"),
    Section("billing", "Billing & 10DLC", "/app/settings/billing"),
)


def owner_screen(cls: T) -> T:
    """Signed in (the session), then OWNER (403 for a TECH), before any responder of the class runs."""
    return falcon.before(authenticate_staff)(falcon.before(require_owner)(cls))


class SettingsScreen(Screen):
    section = ""

    def show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        *,
        status: str = falcon.HTTP_200,
        **context: Any,
    ) -> None:
        context.setdefault("form", Form())
        self.pages.render(
            req, resp, f"settings/{template}", active="settings", section=self.section, sections=SECTIONS, **context
        )
        resp.status = status


def refused(form: Form, message: str) -> Form:
    """The form as it was sent, with the server's refusal (a rule no field breaks alone: the last OWNER…)."""
    form.message = message
    return form
