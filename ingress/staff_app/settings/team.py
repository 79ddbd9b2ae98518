"""Settings → Team: members and open invitations; invite (email, role), change a role, remove a member, revoke an
invitation, through ``domain.identity`` (the use cases behind ``/v1/invitations`` and ``/v1/users/{id}``). Identity
decides the rules (the last OWNER is never removed or demoted) and its refusal is shown as it says it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import falcon
from sqlalchemy.orm import Session, sessionmaker

from domain.identity import invitations
from domain.identity import service as identity
from ingress.api.base import caller, request_events
from ingress.errors import ApiError
from ingress.staff_app.auth import StaffAuthenticate
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.pages import Pages
from ingress.staff_app.settings.forms import Form, parse_settings_form
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen, refused

ROLE_LABELS = {"OWNER": "Owner (everything)", "TECH": "Technician (inbox and bookings)"}
SAVED = {
    "role": "Role changed.",
    "removed": "Removed from the team.",
    "revoked": "Invitation withdrawn: its code no longer works.",
}


def _role(form: Form) -> str | None:
    role = form.get("role")
    if role not in ROLE_LABELS:
        form.fail("role", "Role: choose Owner or Technician")
        return None
    return role


@owner_screen
class TeamResource(SettingsScreen):
    """GET /app/settings/team; POST …/invite, …/{user_id}/role, …/{user_id}/remove, …/invitations/{id}/revoke."""

    section = "team"

    def __init__(self, auth: StaffAuthenticate, sessions: sessionmaker[Session], pages: Pages, ttl: timedelta) -> None:
        super().__init__(auth, sessions, pages)
        self._ttl = ttl

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._page(req, resp, notice=SAVED.get(req.get_param("saved") or ""))

    def _page(self, req: falcon.Request, resp: falcon.Response, *, status: str = falcon.HTTP_200,
              invite: Form | None = None, refusal: Form | None = None, **context: Any) -> None:  # fmt: skip
        who = caller(req)
        with self.transaction(req) as session:
            members = identity.list_members(session, who.tenant_id)
            pending = invitations.list_open(session, who.tenant_id)
        self.show(
            req,
            resp,
            "team.html",
            status=status,
            form=invite or Form(),
            refusal=refusal or Form(),
            members=members,
            invitations=pending,
            me=who.user_id,
            roles=ROLE_LABELS,
            **context,
        )

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_invite(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        form = Form.owning(req, ("email", "role", "mobile"))
        email = form.text("email", "Email", limit=invitations.MAX_EMAIL)
        role = _role(form)
        mobile = form.get("mobile").strip()
        if email is not None:
            try:
                invitations.normalise_email(email)
            except identity.IdentityError:
                form.fail("email", "Email: an address like name@example.com")
        if mobile:
            try:
                identity.check_number("mobile", mobile)
            except identity.InvalidField as error:
                form.fail("mobile", f"Mobile: {error.message}")
        if form.errors or email is None or role is None:
            self._page(req, resp, status=falcon.HTTP_422, invite=form)
            return
        try:
            with self.transaction(req) as session:
                issued = invitations.invite(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    email=email,
                    role=role,
                    mobile=mobile or None,
                    ttl=self._ttl,
                    invited_by=who.user_id,
                )
        except identity.Conflict as error:
            form.fail("email", f"Email: {error}")
            self._page(req, resp, status=falcon.HTTP_409, invite=form)
            return
        # The code is shown once, here (it is stored only as a hash), never put in a URL.
        self._page(req, resp, status=falcon.HTTP_201, issued=issued)

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_role(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        who = caller(req)
        role = _role(Form.owning(req, ("role",)))
        if role is None:
            raise ApiError(falcon.HTTP_400, "malformed", "role must be OWNER or TECH")

        def change(session: Session) -> None:
            identity.set_role(session, tenant_id=who.tenant_id, user_id=user_id, role=role)

        self._act(req, resp, change, "role")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_remove(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        who = caller(req)
        Form.owning(req, ())

        def remove(session: Session) -> None:
            identity.remove_member(
                session, events=request_events(req, session), tenant_id=who.tenant_id, user_id=user_id
            )

        self._act(req, resp, remove, "removed")

    @falcon.before(parse_settings_form)
    @falcon.before(check_csrf)
    def on_post_revoke(self, req: falcon.Request, resp: falcon.Response, invitation_id: uuid.UUID) -> None:
        who = caller(req)
        Form.owning(req, ())

        def revoke(session: Session) -> None:
            invitations.revoke(
                session, events=request_events(req, session), tenant_id=who.tenant_id, invitation_id=invitation_id
            )

        self._act(req, resp, revoke, "revoked")

    def _act(self, req: falcon.Request, resp: falcon.Response, action: Callable[[Session], None], saved: str) -> None:
        try:
            with self.transaction(req) as session:
                action(session)
        except identity.NotFound:
            raise ApiError(falcon.HTTP_404, "not_found", "no such member or invitation in this team") from None
        except identity.Conflict as error:
            # The rule is identity's (the last OWNER stays); its words, on the page the owner was on.
            self._page(req, resp, status=falcon.HTTP_409, refusal=refused(Form(), str(error)))
            return
        raise falcon.HTTPSeeOther(f"/app/settings/team?saved={saved}")
