"""Who is using the staff app: Clerk's session token, verified exactly as the API verifies its Bearer token.

Browsers carry it in Clerk's ``__session`` cookie (set by Clerk's front end in live mode, by ``POST /app/session``
after the sandbox's sign-in page locally); scripts may send it as a Bearer token instead. The tenant is chosen by the
API's rules (``identity.choose_tenant``), so the app and the API always act for the same tenant.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import falcon

from ingress.api.base import Authenticate, caller
from ingress.auth import AuthError, Claims
from ingress.errors import ApiError

SESSION_COOKIE = "__session"


class SignInRequired(Exception):
    """No session, or one that no longer verifies: pages send the browser to sign in, the rest answer 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def session_token(req: falcon.Request) -> str | None:
    """The request's session token: the ``__session`` cookie, else an ``Authorization: Bearer`` token."""
    values = req.get_cookie_values(SESSION_COOKIE) or []
    if values and values[0].strip():
        return values[0].strip()
    scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class StaffAuthenticate(Authenticate):
    """``Authenticate`` with the session cookie as the token's first source; the verified claims stay in
    ``req.context.session_claims`` (the CSRF token is derived from their session id)."""

    def signed_in(self, req: falcon.Request) -> Claims:
        token = session_token(req)
        if token is None:
            raise SignInRequired("please sign in")
        try:
            claims = self.verifier.verify(token)
        except AuthError as error:
            raise SignInRequired(str(error)) from None
        req.context.session_claims = claims
        return claims


def authenticate_staff(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """Class-level ``falcon.before`` hook: the resource's ``StaffAuthenticate``."""
    resource.auth(req, resp, resource, params)


def require_owner(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """OWNER-only screens: the link is hidden from a TECH, and the server refuses them too."""
    if caller(req).role != "OWNER":
        raise ApiError(falcon.HTTP_403, "forbidden", "this screen is for the business owner (OWNER role)")


def sign_in_url(sign_in_base: str, return_to: str) -> str:
    """Where a signed-out browser goes: Clerk's sign-in (live) or the sandbox's page (locally), coming back to
    ``return_to`` afterwards (Clerk's ``redirect_url`` parameter)."""
    separator = "&" if "?" in sign_in_base else "?"
    return f"{sign_in_base}{separator}{urlencode({'redirect_url': return_to})}"
