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
class BookingsResource(_NotBuiltYet):
    key, title = "bookings", "Bookings"
    what = "a day and week view per technician, with booking, cancelling and rescheduling"


@falcon.before(authenticate_staff)
@falcon.before(require_owner)
class ReportsResource(_NotBuiltYet):
    key, title = "reports", "Reports"
    what = "missed calls, conversations, first-response times, bookings and recovered revenue per day"
