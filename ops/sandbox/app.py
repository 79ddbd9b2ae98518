"""`nmc sandbox`: a local stand-in for Twilio (and Clerk's JWKS, Stripe's webhooks, Google Calendar, Jobber and an
OpenAI-compatible chat-completions API) over real HTTP.

The `twilio` SDK talks to it in Twilio's wire format, the calendar adapters to ``/google/...`` and ``/jobber/...`` in
Google's and Jobber's, the LLM engine to ``/ai/v1/chat/completions`` in OpenAI's; tests, the demo and benchmarks
drive the world through the ``/sandbox/*`` JSON routes. State lives in memory, so it must be served by ONE process
(many threads).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import falcon

from db.published_secrets import SANDBOX_AI_API_KEY
from db.settings import Settings, SettingsError
from domain.identity.demo import DEMO_MEMBERS, demo_member
from ops.sandbox.a2p import MESSAGING_BASE, A2pCampaigns, A2pError
from ops.sandbox.calls import CallLog, parse_start_time
from ops.sandbox.chat_completions import ChatCompletions, mount_chat_completions
from ops.sandbox.clerk import ClerkIssuer, load_or_create_key
from ops.sandbox.delivery import Courier
from ops.sandbox.google_calendar import GoogleCalendar, mount_google_calendar
from ops.sandbox.jobber import Jobber, mount_jobber
from ops.sandbox.messaging import Messaging, TwilioApiError, is_e164
from ops.sandbox.state import API_VERSION, FaultError, SandboxState
from ops.sandbox.world import (
    DIAL_STATUSES,
    BadTwiml,
    IngressUnreachable,
    place_call,
    place_outbound_call,
    receive_sms,
    send_stripe_event,
)


@dataclass
class Sandbox:
    """Everything the resources share; ``close()`` stops the background callbacks."""

    settings: Settings
    state: SandboxState
    courier: Courier
    messaging: Messaging
    clerk: ClerkIssuer
    a2p: A2pCampaigns
    calls: CallLog
    google: GoogleCalendar
    jobber: Jobber
    chat: ChatCompletions

    def close(self) -> None:
        self.courier.close()


def refuse_live_mode(settings: Settings) -> None:
    """The sandbox signs webhooks and mints sign-in tokens with the configured secrets: with live ones it forges."""
    if settings.live_mode:
        raise SettingsError(
            "the sandbox does not run in live mode (TWILIO_API_BASE_URL empty): "
            "it would sign webhooks and mint sign-in tokens with the live secrets"
        )


def build_sandbox(settings: Settings) -> Sandbox:
    refuse_live_mode(settings)
    state = SandboxState()
    courier = Courier(settings.twilio_auth_token.get_secret_value(), threads=max(4, settings.sandbox_threads // 2))
    messaging = Messaging(
        state, courier, account_sid=settings.twilio_account_sid, delay_seconds=settings.sandbox_callback_delay_ms / 1000
    )
    clerk = ClerkIssuer(load_or_create_key(Path(settings.sandbox_key_path)), settings.clerk_issuer)
    return Sandbox(
        settings=settings,
        state=state,
        courier=courier,
        messaging=messaging,
        clerk=clerk,
        a2p=A2pCampaigns(settings.twilio_account_sid),
        calls=CallLog(),
        # They accept what the settings resolve to (by default the published sandbox tokens and OAuth clients), as
        # the Twilio stand-in accepts the configured account.
        google=GoogleCalendar(
            token=settings.google_calendar_token,
            client_id=settings.google_oauth_client[0],
            client_secret=settings.google_oauth_client[1],
        ),
        jobber=Jobber(
            token=settings.jobber_token,
            client_id=settings.jobber_oauth_client[0],
            client_secret=settings.jobber_oauth_client[1],
        ),
        # The key the LLM engine sends when it talks to this stand-in (AI_BASE_URL empty), else the published one.
        chat=ChatCompletions(api_key=SANDBOX_AI_API_KEY if settings.ai_base_url else settings.ai_key),
    )


# --- Twilio REST ---------------------------------------------------------------------------------------------------


def _twilio_credentials(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """HTTP Basic with the account SID and auth token, as every Twilio API domain asks."""
    settings: Settings = resource.settings
    username, password = _basic_credentials(req.get_header("Authorization"))
    good_user = hmac.compare_digest(username.encode(), settings.twilio_account_sid.encode())
    good_password = hmac.compare_digest(password.encode(), settings.twilio_auth_token.get_secret_value().encode())
    if not (good_user and good_password):
        raise TwilioApiError(401, 20003, "Authenticate")


def _twilio_auth(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    _twilio_credentials(req, resp, resource, params)
    settings: Settings = resource.settings
    if params.get("account_sid") != settings.twilio_account_sid:
        raise TwilioApiError(404, 20404, f"The requested resource {req.path} was not found")


def _basic_credentials(header: str | None) -> tuple[str, str]:
    if not header or not header.startswith("Basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password


def _form(req: falcon.Request) -> dict[str, Any]:
    media = req.get_media(default_when_empty={})
    return media if isinstance(media, dict) else {}


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _date_filter(req: falcon.Request, name: str) -> date | None:
    raw = req.get_param(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid {name}: {raw}") from None


@falcon.before(_twilio_auth)
class MessagesResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self.settings = sandbox.settings
        self._sandbox = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response, account_sid: str) -> None:
        form = _form(req)
        media = form.get("MediaUrl") or []
        message = self._sandbox.messaging.create(
            to=_first(form.get("To")),
            from_=_first(form.get("From")),
            body=_first(form.get("Body")),
            media_urls=[str(url) for url in (media if isinstance(media, list) else [media])],
            status_callback=_first(form.get("StatusCallback")),
        )
        resp.status = falcon.HTTP_201
        resp.media = message.resource()

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_sid: str) -> None:
        to, from_ = req.get_param("To"), req.get_param("From")
        found = self._sandbox.state.provider_list(
            to=to,
            from_=from_,
            on=_date_filter(req, "DateSent"),
            before=_date_filter(req, "DateSent<"),
            after=_date_filter(req, "DateSent>"),
        )
        resp.media = _list_page(
            req,
            f"/{API_VERSION}/Accounts/{account_sid}/Messages.json",
            "messages",
            found,
            lambda message: message.resource(),
            filter_names=("To", "From", "DateSent", "DateSent<", "DateSent>"),
        )


_Listed = TypeVar("_Listed")


def _list_page(
    req: falcon.Request,
    path: str,
    key: str,
    found: Sequence[_Listed],
    render: Callable[[_Listed], dict[str, Any]],
    *,
    filter_names: tuple[str, ...],
) -> dict[str, Any]:
    """One page of a Twilio list resource (``PageSize``, ``Page``) in Twilio's envelope, whose page URIs keep the
    request's filters: the SDK follows ``next_page_uri`` to read the rest."""
    page_size = min(max(req.get_param_as_int("PageSize", default=50) or 50, 1), 1000)
    page = max(req.get_param_as_int("Page", default=0) or 0, 0)
    start = page * page_size
    chunk = [render(item) for item in found[start : start + page_size]]
    filters = {name: value for name in filter_names if (value := req.get_param(name))}

    def uri(number: int) -> str:
        return f"{path}?{urlencode({**filters, 'PageSize': page_size, 'Page': number, 'PageToken': f'PA{number}'})}"

    return {
        key: chunk,
        "page": page,
        "page_size": page_size,
        "start": start,
        "end": start + max(len(chunk) - 1, 0),
        "uri": uri(page),
        "first_page_uri": f"{path}?{urlencode({**filters, 'PageSize': page_size, 'Page': 0})}",
        "next_page_uri": uri(page + 1) if start + page_size < len(found) else None,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
    }


@falcon.before(_twilio_auth)
class MessageResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self.settings = sandbox.settings
        self._state = sandbox.state

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_sid: str, sid: str) -> None:
        message = self._state.get(sid)
        if message is None:
            raise TwilioApiError(404, 20404, f"The requested resource {req.path} was not found")
        resp.media = message.resource()


@falcon.before(_twilio_credentials)
class UsAppToPersonListResource:
    """GET https://messaging.twilio.com/v1/Services/{MG}/Compliance/Usa2p: Messaging v1's paging (meta.key)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.settings = sandbox.settings
        self._a2p = sandbox.a2p

    def on_get(self, req: falcon.Request, resp: falcon.Response, messaging_service_sid: str) -> None:
        page_size = min(max(req.get_param_as_int("PageSize", default=50) or 50, 1), 1000)
        page = max(req.get_param_as_int("Page", default=0) or 0, 0)
        found = self._a2p.of_service(messaging_service_sid)
        chunk = found[page * page_size : (page + 1) * page_size]
        path = f"{MESSAGING_BASE}/Services/{messaging_service_sid}/Compliance/Usa2p"

        def url(number: int) -> str:
            return f"{path}?{urlencode({'PageSize': page_size, 'Page': number})}"

        resp.media = {
            "compliance": [campaign.resource() for campaign in chunk],
            "meta": {
                "page": page,
                "page_size": page_size,
                "first_page_url": url(0),
                "previous_page_url": url(page - 1) if page > 0 else None,
                "url": url(page),
                "next_page_url": url(page + 1) if (page + 1) * page_size < len(found) else None,
                "key": "compliance",
            },
        }


@falcon.before(_twilio_credentials)
class UsAppToPersonResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self.settings = sandbox.settings
        self._a2p = sandbox.a2p

    def on_get(self, req: falcon.Request, resp: falcon.Response, messaging_service_sid: str, sid: str) -> None:
        campaign = self._a2p.get(messaging_service_sid, sid)
        if campaign is None:
            raise TwilioApiError(404, 20404, f"The requested resource {req.path} was not found")
        resp.media = campaign.resource()


def _render_twilio_error(req: falcon.Request, resp: falcon.Response, error: TwilioApiError, params: Any) -> None:
    resp.status = falcon.code_to_http_status(error.http_status)
    resp.media = error.body()
    if error.http_status == 401:
        resp.set_header("WWW-Authenticate", 'Basic realm="Twilio API"')


# --- the simulated world (JSON in, JSON out) -------------------------------------------------------------------------


def _json(req: falcon.Request) -> dict[str, Any]:
    try:
        document = req.get_media(default_when_empty={})
    except falcon.MediaMalformedError:
        raise falcon.HTTPBadRequest(title="bad_json", description="the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise falcon.HTTPBadRequest(title="bad_json", description="expected a JSON object")
    return document


def _required_number(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not is_e164(value):
        raise falcon.HTTPBadRequest(title="bad_request", description=f"{key!r} must be an E.164 phone number")
    return value


def _unreachable(error: IngressUnreachable) -> falcon.HTTPError:
    return falcon.HTTPBadGateway(title="ingress_unreachable", description=str(error))


class FaultsResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._state = sandbox.state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._state.faults()

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self._state.arm(_json(req))
        except FaultError as error:
            raise falcon.HTTPBadRequest(title="bad_fault", description=str(error)) from None
        resp.media = self._state.faults()

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._state.reset_faults()
        resp.media = self._state.faults()


class CallsResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = _json(req)
        answered = bool(document.get("answered", False))
        dial_status = document.get("dial_status")
        if dial_status is not None and dial_status not in DIAL_STATUSES:
            raise falcon.HTTPBadRequest(title="bad_request", description=f"dial_status must be one of {DIAL_STATUSES}")
        if answered and dial_status not in (None, "completed"):
            raise falcon.HTTPBadRequest(title="bad_request", description="an answered call has dial_status completed")
        duration = document.get("duration_seconds", 42)
        if not isinstance(duration, int) or duration < 0:
            raise falcon.HTTPBadRequest(title="bad_request", description="duration_seconds must be a whole number")
        settings = self._sandbox.settings
        try:
            resp.media = place_call(
                self._sandbox.courier,
                account_sid=settings.twilio_account_sid,
                public_base_url=settings.public_base_url,
                caller=_required_number(document, "from"),
                called=_required_number(document, "to"),
                answered=answered,
                dial_status=dial_status,
                duration_seconds=duration,
                calls=self._sandbox.calls,
            )
        except IngressUnreachable as error:
            raise _unreachable(error) from None
        except BadTwiml as error:
            raise falcon.HTTPBadGateway(title="bad_twiml", description=str(error)) from None


class OutboundCallsResource:
    """``POST /sandbox/calls/outbound`` ``{"from": tenant number, "to": customer, "answered": true,
    "status_callback": true}``: staff call a customer through Twilio."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = _json(req)
        duration = document.get("duration_seconds", 42)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            raise falcon.HTTPBadRequest(title="bad_request", description="duration_seconds must be a whole number")
        settings = self._sandbox.settings
        try:
            resp.media = place_outbound_call(
                self._sandbox.courier,
                self._sandbox.calls,
                account_sid=settings.twilio_account_sid,
                public_base_url=settings.public_base_url,
                number=_required_number(document, "from"),
                customer=_required_number(document, "to"),
                answered=bool(document.get("answered", True)),
                duration_seconds=duration,
                status_callback=bool(document.get("status_callback", True)),
            )
        except IngressUnreachable as error:
            raise _unreachable(error) from None


@falcon.before(_twilio_auth)
class CallListResource:
    """Twilio's Calls list: ``GET /2010-04-01/Accounts/{sid}/Calls.json`` with To, From, ParentCallSid, Status and
    StartTime> filters, paged like every Twilio list."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.settings = sandbox.settings
        self._sandbox = sandbox

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_sid: str) -> None:
        raw_start = req.get_param("StartTime>")
        try:
            started_after = parse_start_time(raw_start) if raw_start else None
        except ValueError:
            raise TwilioApiError(400, 20001, f"Invalid StartTime>: {raw_start}") from None
        found = self._sandbox.calls.find(
            to=req.get_param("To"),
            from_=req.get_param("From"),
            parent_call_sid=req.get_param("ParentCallSid"),
            status=req.get_param("Status"),
            started_after=started_after,
        )
        resp.media = _list_page(
            req,
            f"/{API_VERSION}/Accounts/{account_sid}/Calls.json",
            "calls",
            found,
            lambda call: call.resource(),
            filter_names=("To", "From", "ParentCallSid", "Status", "StartTime>"),
        )


class SmsResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = _json(req)
        body = document.get("body", "")
        media_urls = document.get("media_urls") or []
        if not isinstance(body, str) or not isinstance(media_urls, list):
            raise falcon.HTTPBadRequest(title="bad_request", description="body must be text, media_urls a list")
        settings = self._sandbox.settings
        try:
            resp.media = receive_sms(
                self._sandbox.courier,
                self._sandbox.state,
                account_sid=settings.twilio_account_sid,
                public_base_url=settings.public_base_url,
                caller=_required_number(document, "from"),
                number=_required_number(document, "to"),
                body=body,
                media_urls=[str(url) for url in media_urls],
            )
        except IngressUnreachable as error:
            raise _unreachable(error) from None


def _number_param(req: falcon.Request, name: str) -> str | None:
    value = req.get_param(name)
    if value is None:
        return None
    value = value.strip()
    # An unencoded "+" in a query string arrives as a space; be forgiving to curl users.
    return "+" + value if value[:1].isdigit() else value


class SandboxMessagesResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._state = sandbox.state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        since_raw = req.get_param("since")
        since = None
        if since_raw:
            try:
                since = datetime.fromisoformat(since_raw.replace(" ", "+").replace("Z", "+00:00"))
            except ValueError:
                raise falcon.HTTPBadRequest(title="bad_request", description="since must be ISO-8601") from None
            if since.tzinfo is None:
                raise falcon.HTTPBadRequest(title="bad_request", description="since needs a UTC offset")
        found = self._state.messages(to=_number_param(req, "to"), from_=_number_param(req, "from"), since=since)
        resp.media = {"messages": [message.record() for message in found]}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"deleted": self._state.clear_messages()}


class SandboxCalendarsResource:
    """What the calendar stand-ins hold: every Google calendar's events (a deleted one as ``status: cancelled``) and
    every Jobber visit, so a booking written back can be seen; DELETE forgets them (and Google's busy time)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._google = sandbox.google
        self._jobber = sandbox.jobber

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"google": self._google.snapshot(), "jobber": self._jobber.snapshot()}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"deleted": {"google": self._google.clear(), "jobber": self._jobber.clear()}}


class JwksResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._clerk = sandbox.clerk

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._clerk.jwks()
        resp.cache_control = ["public", "max-age=300"]


class ClerkTokenResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._clerk = sandbox.clerk

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = _json(req)
        sub, azp, ttl = document.get("sub"), document.get("azp"), document.get("ttl_seconds", 3600)
        claims = document.get("claims") or {}
        if not isinstance(sub, str) or not sub:
            raise falcon.HTTPBadRequest(title="bad_request", description="sub is required")
        if azp is not None and not isinstance(azp, str):
            raise falcon.HTTPBadRequest(title="bad_request", description="azp must be text")
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise falcon.HTTPBadRequest(title="bad_request", description="ttl_seconds must be an integer")
        if not isinstance(claims, dict):
            raise falcon.HTTPBadRequest(title="bad_request", description="claims must be an object")
        extra = {key: document[key] for key in ("org_id", "org_role", "org_slug") if document.get(key) is not None}
        token, issued = self._clerk.token(sub=sub, azp=azp, ttl_seconds=ttl, extra={**extra, **claims})
        resp.media = {"token": token, "claims": issued, "kid": self._clerk.kid}


SIGN_IN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in (sandbox)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}
button{{font:inherit;min-height:44px;padding:8px 14px;margin:6px 0;width:100%;border-radius:6px;
border:1px solid #0b57d0;background:#0b57d0;color:#fff}}</style></head><body><main>
<h1>Sign in to the staff app</h1><p>This is the local sandbox standing in for Clerk: choose who you are.</p>
{forms}</main></body></html>"""
SIGN_IN_FORM = """<form method="post" action="/sandbox/sign-in"><input type="hidden" name="redirect_url" value="{back}">
<input type="hidden" name="who" value="{key}"><button type="submit">Sign in as {label}</button></form>"""
HAND_OVER_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form id="hand-over" method="post" action="{action}"><input type="hidden" name="token" value="{token}">
<input type="hidden" name="next" value="{next}"><p>Signed in as {label}.</p>
<button type="submit">Continue</button></form>
<script>document.getElementById("hand-over").submit();</script></body></html>"""


class SignInResource:
    """GET /sandbox/sign-in?redirect_url=…: "sign in as the demo owner / a tech". POST mints a Clerk-format session
    token for that member (as ``/sandbox/clerk/token`` does) and posts it to the staff app's ``/app/session``, which
    verifies it and sets the ``__session`` cookie — the part Clerk's own front end plays in live mode."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._clerk = sandbox.clerk
        self._settings = sandbox.settings

    def _back(self, raw: str | None) -> str:
        """Only a page of the staff app this sandbox serves: never an open redirect."""
        app = f"{self._settings.public_base_url}/app"
        return raw if raw and (raw == app or raw.startswith(app + "/") or raw.startswith(app + "?")) else app

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        back = html.escape(self._back(req.get_param("redirect_url")))
        forms = "".join(
            SIGN_IN_FORM.format(back=back, key=member.key, label=html.escape(f"{member.name} ({member.role.lower()})"))
            for member in DEMO_MEMBERS
        )
        resp.content_type = falcon.MEDIA_HTML
        resp.text = SIGN_IN_PAGE.format(forms=forms)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = dict(parse_qsl(req.bounded_stream.read(8192).decode("utf-8", "replace"), keep_blank_values=True))
        member = demo_member(form.get("who", ""))
        if member is None:
            raise falcon.HTTPBadRequest(title="bad_request", description="who must be owner or tech")
        parties = self._settings.clerk_authorized_parties
        token, _ = self._clerk.token(
            sub=member.clerk_user_id,
            azp=parties[0] if parties else None,
            extra={"email": member.email, "email_verified": True, "name": member.name},
        )
        back = self._back(form.get("redirect_url"))
        base = self._settings.public_base_url
        resp.content_type = falcon.MEDIA_HTML
        resp.text = HAND_OVER_PAGE.format(
            action=html.escape(f"{base}/app/session"),
            token=html.escape(token),
            next=html.escape(back[len(base) :] or "/app"),
            label=html.escape(member.name),
        )


class StripeEventsResource:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document = _json(req)
        event_type, data = document.get("type"), document.get("data")
        if not isinstance(event_type, str) or not event_type:
            raise falcon.HTTPBadRequest(title="bad_request", description="type is required")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise falcon.HTTPBadRequest(title="bad_request", description="data.object must be an object")
        for key in ("created", "signed_at"):
            if document.get(key) is not None and not isinstance(document[key], int):
                raise falcon.HTTPBadRequest(title="bad_request", description=f"{key} must be unix seconds")
        settings = self._sandbox.settings
        try:
            resp.media = send_stripe_event(
                self._sandbox.courier,
                public_base_url=settings.public_base_url,
                secret=settings.stripe_webhook_secret.get_secret_value(),
                event_type=event_type,
                data=data,
                created=document.get("created"),
                event_id=document.get("id"),
                signed_at=document.get("signed_at"),
            )
        except IngressUnreachable as error:
            raise _unreachable(error) from None


class A2pCampaignsResource:
    """POST /sandbox/a2p/campaigns: a submitted campaign (IN_PROGRESS) on a messaging service; GET lists them."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._a2p = sandbox.a2p

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"campaigns": [campaign.resource() for campaign in self._a2p.all()]}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            campaign = self._a2p.create(_json(req))
        except A2pError as error:
            raise falcon.HTTPBadRequest(title="bad_request", description=str(error)) from None
        resp.status = falcon.HTTP_201
        resp.media = campaign.resource()


class A2pReviewResource:
    """POST /sandbox/a2p/campaigns/{sid} {"campaign_status": "VERIFIED"|"FAILED"|..., "errors": [...]}: the
    carrier's verdict, which the product only learns by polling."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._a2p = sandbox.a2p

    def on_post(self, req: falcon.Request, resp: falcon.Response, sid: str) -> None:
        try:
            campaign = self._a2p.review(sid, _json(req))
        except A2pError as error:
            raise falcon.HTTPBadRequest(title="bad_request", description=str(error)) from None
        if campaign is None:
            raise falcon.HTTPNotFound(title="not_found", description=f"no campaign {sid}")
        resp.media = campaign.resource()


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok", "service": "sandbox"}


def create_sandbox_app(settings: Settings, sandbox: Sandbox | None = None) -> falcon.App:
    sandbox = sandbox or build_sandbox(settings)
    app = falcon.App()
    app.add_error_handler(TwilioApiError, _render_twilio_error)
    accounts = f"/{API_VERSION}/Accounts/{{account_sid}}"
    app.add_route(f"{accounts}/Messages.json", MessagesResource(sandbox))
    app.add_route(f"{accounts}/Messages/{{sid}}.json", MessageResource(sandbox))
    services = "/v1/Services/{messaging_service_sid}/Compliance/Usa2p"
    app.add_route(services, UsAppToPersonListResource(sandbox))
    app.add_route(f"{services}/{{sid}}", UsAppToPersonResource(sandbox))
    app.add_route("/sandbox/a2p/campaigns", A2pCampaignsResource(sandbox))
    app.add_route("/sandbox/a2p/campaigns/{sid}", A2pReviewResource(sandbox))
    app.add_route("/sandbox/faults", FaultsResource(sandbox))
    app.add_route(f"{accounts}/Calls.json", CallListResource(sandbox))
    app.add_route("/sandbox/calls", CallsResource(sandbox))
    app.add_route("/sandbox/calls/outbound", OutboundCallsResource(sandbox))
    app.add_route("/sandbox/sms", SmsResource(sandbox))
    app.add_route("/sandbox/messages", SandboxMessagesResource(sandbox))
    app.add_route("/sandbox/clerk/token", ClerkTokenResource(sandbox))
    app.add_route("/sandbox/sign-in", SignInResource(sandbox))
    app.add_route("/sandbox/stripe/events", StripeEventsResource(sandbox))
    app.add_route("/.well-known/jwks.json", JwksResource(sandbox))
    app.add_route("/sandbox/calendars", SandboxCalendarsResource(sandbox))
    mount_google_calendar(app, sandbox.google, "/google")
    mount_jobber(app, sandbox.jobber, "/jobber")
    mount_chat_completions(app, sandbox.chat, "/ai/v1")
    app.add_route("/healthz", HealthResource())
    return app
