"""CSRF protection for every state-changing form of the staff app.

The token is an HMAC of the signed-in user and the Clerk session id, keyed by the session id itself. It is stable
for the session (Clerk refreshes the ``__session`` token every minute; the session id stays), the same in every
gunicorn worker (no server state), and unknowable to another site: the session id lives inside the HttpOnly cookie.
The cookie is also ``SameSite=Lax``, so a cross-site POST does not carry it at all; the token is the second wall.
A POST whose ``Origin`` names another host is refused before the token is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import falcon

from ingress.auth import Claims
from ingress.errors import ApiError

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token_for(claims: Claims) -> str:
    key = (claims.session_id or claims.subject).encode()
    digest = hmac.new(key, f"nmc-staff-csrf|{claims.subject}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_csrf(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """``falcon.before`` hook on every POST responder, after authentication and after the form was parsed
    (``req.context.form``): the form's ``csrf_token`` (or the ``X-CSRF-Token`` header) must match the session's."""
    origin = req.get_header("Origin")
    if origin and urlsplit(origin).netloc != req.netloc:
        raise ApiError(falcon.HTTP_403, "csrf", "this form was sent from another site")
    form: dict[str, str] = getattr(req.context, "form", {}) or {}
    sent = form.get(FIELD) or req.get_header(HEADER) or ""
    expected = token_for(req.context.session_claims)
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(falcon.HTTP_403, "csrf", "the form's security token is missing or wrong; reload the page")
