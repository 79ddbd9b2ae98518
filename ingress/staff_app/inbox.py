"""The inbox: the tenant's conversations by state or needing attention, newest activity first, searchable by the
caller's number; ``/app/inbox/list`` is the same list alone, which the page's script swaps in on a live update."""

from __future__ import annotations

import falcon

from domain.conversations import operator
from domain.conversations.store import INBOX_VIEWS
from ingress.api.base import caller
from ingress.api.resources import operator_errors
from ingress.errors import ApiError
from ingress.staff_app.auth import authenticate_staff
from ingress.staff_app.screens import Screen

VIEW_LABELS = {
    "open": "Open",
    "attention": "Needs attention",
    "human": "With staff",
    "closed": "Closed",
    "blocked": "Blocked",
    "all": "All",
}
MAX_SEARCH = 16


def search_digits(raw: str | None) -> str | None:
    """The digits of a search by number ("(310) 555-99" finds +1310555 99…); letters are a 400 (callers have no
    name on record: the number is what identifies them)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not all(ch.isascii() and (ch.isdigit() or ch in " +-().") for ch in text):
        raise ApiError(falcon.HTTP_400, "malformed", "search by phone number: digits only")
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or len(digits) > MAX_SEARCH:
        raise ApiError(falcon.HTTP_400, "malformed", "search by phone number: 1 to 16 digits")
    return digits


def view_of(req: falcon.Request) -> str:
    view = req.get_param("view") or "open"
    if view not in INBOX_VIEWS:
        raise ApiError(falcon.HTTP_400, "malformed", f"view must be one of {', '.join(INBOX_VIEWS)}")
    return view


@falcon.before(authenticate_staff)
class InboxResource(Screen):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._render(req, resp, "inbox.html")

    def on_get_list(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._render(req, resp, "inbox_list.html")

    def _render(self, req: falcon.Request, resp: falcon.Response, template: str) -> None:
        who = caller(req)
        view = view_of(req)
        raw_search = req.get_param("q")
        number = search_digits(raw_search)
        with self.transaction(req) as session, operator_errors():
            found = operator.inbox(
                session,
                tenant_id=who.tenant_id,
                user_id=who.user_id,
                view=view,
                number=number,
                cursor=req.get_param("cursor"),
            )
        self.pages.render(
            req,
            resp,
            template,
            active="inbox",
            inbox=found,
            views=VIEW_LABELS,
            search=raw_search or "",
            cursor=req.get_param("cursor") or "",
        )
