"""Settings at ``/app/settings`` (OWNER only): one adapter module per section, each calling the domain use cases the
``/v1`` API and the CLI call (``catalog``, ``technicians``, ``messages``, ``reminders``, ``team``, ``account``);
``forms`` and ``screen`` are what they share."""

from __future__ import annotations

from datetime import timedelta

import falcon
from sqlalchemy.orm import Session, sessionmaker

from domain.scheduling.credentials import CredentialBox
from ingress.staff_app.auth import StaffAuthenticate
from ingress.staff_app.pages import Pages
from ingress.staff_app.settings.account import BillingResource, OverviewResource
from ingress.staff_app.settings.catalog import CatalogItemResource, CatalogResource
from ingress.staff_app.settings.messages import MessagesResource
from ingress.staff_app.settings.reminders import RemindersResource
from ingress.staff_app.settings.team import TeamResource
from ingress.staff_app.settings.technicians import TechnicianResource, TechniciansResource


def add_settings_routes(
    app: falcon.App,
    auth: StaffAuthenticate,
    sessions: sessionmaker[Session],
    pages: Pages,
    *,
    invitation_ttl: timedelta,
    credentials_key: str = "",
    sandbox_calendar_tokens: dict[str, str] | None = None,
) -> None:
    base = "/app/settings"
    app.add_route(base, OverviewResource(auth, sessions, pages))
    app.add_route(f"{base}/catalog", CatalogResource(auth, sessions, pages))
    item = CatalogItemResource(auth, sessions, pages)
    app.add_route(f"{base}/catalog/{{item_id:uuid}}", item)
    for action in ("deactivate", "activate"):
        app.add_route(f"{base}/catalog/{{item_id:uuid}}/{action}", item, suffix=action)
    app.add_route(f"{base}/technicians", TechniciansResource(auth, sessions, pages))
    technician = TechnicianResource(auth, sessions, pages)
    technician.credential_box = CredentialBox(credentials_key)
    technician.sandbox_calendar_tokens = sandbox_calendar_tokens
    app.add_route(f"{base}/technicians/{{resource_id:uuid}}", technician)
    for action in ("services", "hours", "time-off", "date-hours", "calendar"):
        app.add_route(f"{base}/technicians/{{resource_id:uuid}}/{action}", technician, suffix=action.replace("-", "_"))
    app.add_route(
        f"{base}/technicians/{{resource_id:uuid}}/time-off/{{time_off_id:uuid}}/remove",
        technician,
        suffix="remove_time_off",
    )
    app.add_route(f"{base}/messages", MessagesResource(auth, sessions, pages))
    app.add_route(f"{base}/reminders", RemindersResource(auth, sessions, pages))
    team = TeamResource(auth, sessions, pages, invitation_ttl)
    app.add_route(f"{base}/team", team)
    app.add_route(f"{base}/team/invite", team, suffix="invite")
    app.add_route(f"{base}/team/{{user_id:uuid}}/role", team, suffix="role")
    app.add_route(f"{base}/team/{{user_id:uuid}}/remove", team, suffix="remove")
    app.add_route(f"{base}/team/invitations/{{invitation_id:uuid}}/revoke", team, suffix="revoke")
    app.add_route(f"{base}/billing", BillingResource(auth, sessions, pages))


__all__ = ["add_settings_routes"]
