"""The inbox: the tenant's conversations by state or needing attention, newest activity first, searchable by the
caller's number or name; ``/app/inbox/list`` is the same list alone, which the page's script swaps in on a live
update."""

from __future__ import annotations

from dataclasses import dataclass

import falcon

from domain.conversations import operator
from domain.conversations.callers import MAX_CALLER_NAME, InvalidName, clean_name
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
MAX_DIGITS = 16
# A search is a piece of a number or of a name: no longer than the longest name.
MAX_SEARCH = MAX_CALLER_NAME


@dataclass(frozen=True)
class Search:
    """What a search matches: the caller's number (``digits``, when the search reads as a number) or their name
    (``name``, a case-insensitive piece of it)."""

    digits: str | None
    name: str


def search_terms(raw: str | None) -> Search | None:
    """The search as typed: "(310) 555-99" finds +1310555 99… (and a name holding that text), "mar" finds Maria and
    MARTIN J. Nothing typed is no search; control characters, or more than ``MAX_SEARCH`` characters, are a 400."""
    if raw is None or not raw.strip():
        return None
    try:
        text = clean_name(raw)
    except InvalidName:
        raise ApiError(
            falcon.HTTP_400, "malformed", f"search: a piece of a number or a name, at most {MAX_SEARCH} characters"
        ) from None
    digits = None
    if all(ch.isascii() and (ch.isdigit() or ch in " +-().") for ch in text):
        digits = "".join(ch for ch in text if ch.isdigit()) or None
        if digits is not None and len(digits) > MAX_DIGITS:
            raise ApiError(falcon.HTTP_400, "malformed", f"search by phone number: 1 to {MAX_DIGITS} digits")
    return Search(digits, text)


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
        search = search_terms(raw_search)
        with self.transaction(req) as session, operator_errors():
            found = operator.inbox(
                session,
                tenant_id=who.tenant_id,
                user_id=who.user_id,
                view=view,
                number=search.digits if search else None,
                name=search.name if search else None,
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
            max_search=MAX_SEARCH,
        )
