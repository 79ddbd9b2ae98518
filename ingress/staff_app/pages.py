"""What every staff-app screen shares: the Jinja2 templates, the page context (who, the tenant, the CSRF token,
the navigation) and form bodies parsed strictly (anything else is a 400, never a 500)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import falcon
import jinja2

from domain.conversations.store import INBOX_COUNT_CAP
from ingress.api.base import caller
from ingress.errors import ApiError
from ingress.staff_app import csrf

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 16 * 1024
MAX_FIELD_CHARS = 2000
BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")  # parse_qsl would keep it as text


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str
    owner_only: bool = False


# The screens, in the order the navigation shows them. A TECH does not see owner-only ones (and is refused them).
NAVIGATION = (
    NavItem("inbox", "Inbox", "/app"),
    NavItem("bookings", "Bookings", "/app/bookings"),
    NavItem("settings", "Settings", "/app/settings", owner_only=True),
    NavItem("reports", "Reports", "/app/reports", owner_only=True),
)


def _local_time(value: datetime | str | None, timezone: str = "UTC", style: str = "short") -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(ZoneInfo(timezone))
    if style == "long":
        return local.strftime("%a %b %-d, %-I:%M %p")
    return local.strftime("%b %-d %-I:%M %p")


def _money(cents: int, currency: str = "USD") -> str:
    return f"${cents / 100:,.2f}" if currency == "USD" else f"{cents / 100:,.2f} {currency}"


def _view_count(count: int) -> str:
    """A view's count as the tab shows it: counts stop past ``INBOX_COUNT_CAP`` ("99+")."""
    return f"{INBOX_COUNT_CAP}+" if count > INBOX_COUNT_CAP else str(count)


class _Environment(jinja2.Environment):
    """``item.name`` on a plain dict looks the key up first. Jinja tries the attribute first, and the
    AttributeError it raises and catches for every key of every row made the inbox's 50 rows cost ~6 ms of rendering
    (a key named like a dict method, e.g. ``items``, would shadow the method: no context dict has one)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def environment() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Compiled once per process: the templates ship with the code, so checking their files on every render
        # (Jinja's default) only costs stat calls.
        auto_reload=False,
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = _local_time
    env.filters["money"] = _money
    env.filters["view_count"] = _view_count
    return env


class Pages:
    """Renders a template into the response with the context every page needs."""

    def __init__(self, env: jinja2.Environment | None = None) -> None:
        self.env = env or environment()

    def render(self, req: falcon.Request, resp: falcon.Response, template: str, **context: Any) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.cache_control = ["no-store"]
        resp.text = self.fragment(template, req, **context)

    def fragment(self, template: str, req: falcon.Request, **context: Any) -> str:
        return self.env.get_template(template).render({**self.page_context(req), **context})

    def page_context(self, req: falcon.Request) -> dict[str, Any]:
        who = getattr(req.context, "caller", None)
        if who is None:
            return {"who": None, "nav": (), "csrf_token": "", "timezone": "UTC", "tenant_name": "", "active": ""}
        is_owner = who.role == "OWNER"
        return {
            "who": who,
            "is_owner": is_owner,
            "nav": [item for item in NAVIGATION if is_owner or not item.owner_only],
            "csrf_token": csrf.token_for(req.context.session_claims),
            "timezone": getattr(req.context, "tenant_timezone", "UTC"),
            "tenant_name": getattr(req.context, "tenant_name", ""),
            "active": "",
        }


def read_form(req: falcon.Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as one value per field, in ``req.context.form``; a body in any
    other type, too long, not UTF-8, or naming a field twice is a 400."""
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ApiError(falcon.HTTP_400, "malformed", "send the form as application/x-www-form-urlencoded")
    raw = req.bounded_stream.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        raise ApiError(falcon.HTTP_400, "malformed", "the form is too long")
    if BAD_ESCAPE.search(raw):
        raise ApiError(falcon.HTTP_400, "malformed", "the form body is not valid percent-encoding")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(falcon.HTTP_400, "malformed", "the form body is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise ApiError(falcon.HTTP_400, "malformed", f"the field {name} is sent twice")
        if len(value) > MAX_FIELD_CHARS or "\x00" in value:
            raise ApiError(falcon.HTTP_400, "malformed", f"the field {name} is not acceptable")
        form[name] = value
    req.context.form = form
    return form


def parse_form(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """``falcon.before`` hook (before ``check_csrf``): the body as ``req.context.form``."""
    read_form(req)


def tenant_id_of(req: falcon.Request) -> uuid.UUID:
    return caller(req).tenant_id
