"""Signing in and out of the staff app.

Live: Clerk's front end keeps the ``__session`` cookie on the app's domain; signed-out browsers are sent to
``STAFF_SIGN_IN_URL`` (Clerk's sign-in page). Locally: the sandbox's sign-in page mints a Clerk-format token for the
demo owner or tech and posts it here; ``POST /app/session`` verifies it like any session token and sets the cookie.
That route does not exist in live mode, where only Clerk issues sessions.
"""

from __future__ import annotations

import html

import falcon

from ingress.auth import AuthError, ClerkVerifier
from ingress.errors import ApiError
from ingress.staff_app.auth import SESSION_COOKIE, StaffAuthenticate, authenticate_staff
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.pages import parse_form, read_form

SESSION_MAX_AGE = 3600


def safe_next(value: str | None) -> str:
    """Only a path inside the app: never an open redirect to another site."""
    if value and value.startswith("/app") and "//" not in value and "\\" not in value and value.isprintable():
        return value
    return "/app"


class SessionResource:
    """POST /app/session (form: token, next): the sandbox's sign-in page hands its token over."""

    def __init__(self, verifier: ClerkVerifier, *, secure_cookies: bool) -> None:
        self._verifier = verifier
        self._secure = secure_cookies

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = read_form(req)
        token = form.get("token", "").strip()
        if not token:
            raise ApiError(falcon.HTTP_400, "malformed", "token is required")
        try:
            self._verifier.verify(token)
        except AuthError as error:
            raise ApiError(falcon.HTTP_401, "unauthorized", str(error)) from None
        resp.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_MAX_AGE,
            path="/",
            secure=self._secure,
            http_only=True,
            same_site="Lax",
        )
        raise falcon.HTTPSeeOther(safe_next(form.get("next")))


@falcon.before(authenticate_staff)
class SignOutResource:
    """POST /app/sign-out: forgets the cookie (Clerk's own sign-out ends the session itself in live mode)."""

    def __init__(self, auth: StaffAuthenticate) -> None:
        self.auth = auth

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.unset_cookie(SESSION_COOKIE, path="/", same_site="Lax")
        raise falcon.HTTPSeeOther("/app/signed-out")


class SignedOutResource:
    def __init__(self, sign_in: str) -> None:
        self._sign_in = sign_in

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/app/static/app.css"></head><body><main class="narrow">'
            f'<h1>You are signed out</h1><p><a href="{html.escape(self._sign_in)}">Sign in again</a></p>'
            "</main></body></html>"
        )
