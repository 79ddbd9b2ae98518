"""The staff app at ``/app``: server-rendered pages (Jinja2) with a small script for live updates, served by the
ingress in the same process, with the same settings and the same Clerk verification as the ``/v1`` API.

One module per screen (``inbox``, ``thread``, ``bookings_pages``, ``reports_pages``, the ``settings``
package; ``bookings`` and ``reports`` are those screens' one door each into scheduling and reporting); what
they share is in ``auth`` (the session), ``csrf``, ``pages`` (templates, forms) and ``screens`` (the tenant
transaction).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

import falcon
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from ingress.auth import ClerkVerifier
from ingress.errors import serialize_error
from ingress.staff_app.auth import SignInRequired, StaffAuthenticate, sign_in_url
from ingress.staff_app.bookings_pages import AppointmentResource, BookingsResource
from ingress.staff_app.inbox import InboxResource
from ingress.staff_app.live import EventsResource, InboxFeed
from ingress.staff_app.pages import STATIC, Pages
from ingress.staff_app.reports_pages import ReportsResource
from ingress.staff_app.session import SessionResource, SignedOutResource, SignOutResource
from ingress.staff_app.settings import add_settings_routes
from ingress.staff_app.thread import ThreadActionsResource, ThreadResource


class _HasSessions(Protocol):
    sessions: sessionmaker[Session]


def staff_sign_in_base(settings: Settings) -> str:
    """``STAFF_SIGN_IN_URL``, else (locally) the sandbox's sign-in page."""
    return settings.staff_sign_in_url or f"{settings.twilio_api_base_url}/sandbox/sign-in"


def register_staff_app(
    app: falcon.App,
    settings: Settings,
    deps: _HasSessions,
    *,
    verifier: ClerkVerifier | None = None,
    feed: InboxFeed | None = None,
) -> InboxFeed:
    verifier = verifier or ClerkVerifier(settings)
    auth = StaffAuthenticate(verifier, deps.sessions)
    pages = Pages()
    sessions = deps.sessions
    sign_in = staff_sign_in_base(settings)
    secure = settings.public_base_url.startswith("https://")
    feed = feed or InboxFeed(settings.database_url)

    inbox = InboxResource(auth, sessions, pages)
    app.add_route("/app", inbox)
    app.add_route("/app/inbox/list", inbox, suffix="list")
    thread = ThreadResource(auth, sessions, pages)
    app.add_route("/app/conversations/{conversation_id:uuid}", thread)
    app.add_route("/app/conversations/{conversation_id:uuid}/messages", thread, suffix="messages")
    actions = ThreadActionsResource(auth, sessions, pages, timedelta(minutes=settings.human_lease_minutes))
    for action in ("takeover", "reply", "release", "close", "name"):
        app.add_route(f"/app/conversations/{{conversation_id:uuid}}/{action}", actions, suffix=action)
    app.add_route(
        "/app/events",
        EventsResource(
            auth, feed, stream_seconds=settings.staff_stream_seconds, max_streams=settings.staff_streams_per_worker
        ),
    )
    calendar = BookingsResource(auth, sessions, pages)
    app.add_route("/app/bookings", calendar)
    app.add_route("/app/bookings/new", calendar, suffix="new")
    appointment = AppointmentResource(auth, sessions, pages)
    for action in ("cancel", "reschedule"):
        app.add_route(f"/app/bookings/{{appointment_id:uuid}}/{action}", appointment, suffix=action)
    add_settings_routes(
        app,
        auth,
        sessions,
        pages,
        invitation_ttl=timedelta(hours=settings.invitation_ttl_hours),
        credentials_key=settings.credentials_key,
        # Locally the sandbox stands in for Google Calendar and Jobber: the form says which tokens it accepts.
        sandbox_calendar_tokens=None
        if settings.live_mode
        else {"google": settings.google_calendar_token, "jobber": settings.jobber_token},
    )
    app.add_route("/app/reports", ReportsResource(auth, sessions, pages))
    if not settings.live_mode:  # locally only: in live mode Clerk alone issues sessions
        app.add_route("/app/session", SessionResource(verifier, secure_cookies=secure))
    app.add_route("/app/sign-out", SignOutResource(auth))
    app.add_route("/app/signed-out", SignedOutResource(sign_in_url(sign_in, f"{settings.public_base_url}/app")))
    app.add_static_route("/app/static", str(STATIC))

    def signed_out(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
        if req.method in ("GET", "HEAD") and req.path != "/app/events" and not req.path.startswith("/app/inbox/"):
            raise falcon.HTTPSeeOther(sign_in_url(sign_in, f"{settings.public_base_url}{req.relative_uri}"))
        raise falcon.HTTPUnauthorized(title="unauthorized", description=str(error))

    app.add_error_handler(SignInRequired, signed_out)
    app.set_error_serializer(_pages_for_app(pages))
    return feed


def _pages_for_app(pages: Pages) -> Any:
    """Errors under /app are pages a person reads (with a way back); everything else keeps the JSON shape."""

    def serialize(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
        if not req.path.startswith("/app") or req.path.startswith("/app/static"):
            serialize_error(req, resp, error)
            return
        resp.content_type = falcon.MEDIA_HTML
        resp.text = pages.fragment(
            "error.html",
            req,
            status=error.status_code,
            message=error.description or (error.title or "error"),
        )

    return serialize


__all__ = ["register_staff_app", "staff_sign_in_base"]
