"""Screens not built yet: each says so honestly (no made-up figures), behind the same sign-in and role rules as the
finished ones, so building one means replacing its resource here with a module of its own."""

from __future__ import annotations

import falcon

from ingress.staff_app.auth import authenticate_staff, require_owner
from ingress.staff_app.screens import Screen


class _NotBuiltYet(Screen):
    key = ""
    title = ""
    what = ""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.transaction(req):
            pass
        self.pages.render(req, resp, "not_built.html", active=self.key, title=self.title, what=self.what)


@falcon.before(authenticate_staff)
@falcon.before(require_owner)
class SettingsResource(_NotBuiltYet):
    key, title = "settings", "Settings"
    what = "the price list, technicians, working hours, message templates and billing"


@falcon.before(authenticate_staff)
@falcon.before(require_owner)
class TeamSettingsResource(_NotBuiltYet):
    key, title = "settings", "Team"
    what = "inviting people, changing their role and removing them"
