"""Calendar change notifications: Google push channels and Jobber webhooks ⇒ ``CalendarChangeNotified``.

Verified in ``falcon.before`` hooks (Google: the channel's token, compared in constant time; Jobber: the
``X-Jobber-Hmac-SHA256`` HMAC of the raw body with the app's client secret), then deduped into ``webhook_events``
and the event(s) written to the outbox in ONE transaction, and answered 200 fast. The re-sync itself happens in the
scheduling handler, so a slow provider never slows the webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any

import falcon
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events.catalog import CalendarChangeNotified
from domain.events.sink import RootSink
from domain.scheduling.sync import calendar_by_channel, calendars_for_jobber_account
from ingress.errors import forbidden, malformed
from ingress.json_body import parse_json
from ingress.metrics import count_webhook
from ingress.middleware import read_body

JOBBER_SIGNATURE_HEADER = "X-Jobber-Hmac-SHA256"
# Topics that can move busy time; anything else (clients, invoices, …) is recorded as ignored.
_JOBBER_TOPIC = re.compile(r"^(VISIT|JOB|ASSESSMENT|REQUEST)_[A-Z_]+$")
_GOOGLE_CHANGE_STATES = frozenset({"exists", "not_exists"})
# Google numbers a channel's messages with a 64-bit counter.
MAX_MESSAGE_NUMBER_DIGITS = 19

_RECORD = text(
    """
    INSERT INTO webhook_events (id, provider, provider_ref, kind, tenant_id, outcome, payload)
    VALUES (:id, :provider, :provider_ref, :kind, :tenant_id, :outcome, :payload)
    ON CONFLICT (provider, provider_ref) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("payload", type_=JSONB))


@dataclass(frozen=True)
class _Target:
    tenant_id: uuid.UUID
    calendar_id: uuid.UUID
    external_ref: str


def _record(
    sessions: sessionmaker[Session],
    *,
    provider: str,
    provider_ref: str,
    kind: str,
    payload: dict[str, Any],
    targets: list[_Target],
    notified_provider: str,
    outcome: str,
    correlation_id: uuid.UUID | None,
) -> str:
    """Dedupe row + one event per target calendar, atomically; returns the outcome (``duplicate`` on a repeat)."""
    with transaction(sessions) as session:
        inserted = session.execute(
            _RECORD,
            {
                "id": uuid.uuid4(),
                "provider": provider,
                "provider_ref": provider_ref,
                "kind": kind,
                "tenant_id": next(iter({t.tenant_id for t in targets}))
                if len({t.tenant_id for t in targets}) == 1
                else None,
                "outcome": outcome,
                "payload": payload,
            },
        ).scalar_one_or_none()
        if inserted is None:
            return "duplicate"
        if outcome == "accepted":
            events = RootSink(session, correlation_id=correlation_id)
            for target in targets:
                events.emit(
                    CalendarChangeNotified(
                        provider=notified_provider,  # type: ignore[arg-type]
                        external_ref=target.external_ref,
                        resource_calendar_id=target.calendar_id,
                    ),
                    tenant_id=target.tenant_id,
                )
    return outcome


def _correlation(req: falcon.Request) -> uuid.UUID | None:
    value = getattr(req.context, "correlation_id", None)
    return value if isinstance(value, uuid.UUID) else None


# --- Google ----------------------------------------------------------------------------------------------------


def google_channel(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """``falcon.before``: the channel must be one we opened, and its token must match (constant-time)."""
    assert isinstance(resource, GoogleCalendarWebhookResource)
    channel_id = req.get_header("X-Goog-Channel-ID") or ""
    token = req.get_header("X-Goog-Channel-Token") or ""
    if not channel_id or not token:
        count_webhook("google_calendar", resource.kind, "forged")
        raise forbidden("missing X-Goog-Channel-ID or X-Goog-Channel-Token")
    with resource.sessions() as session:
        calendar = calendar_by_channel(session, channel_id=channel_id)
        expected = None if calendar is None else calendar.channel_token
        target = None if calendar is None else _Target(calendar.tenant_id, calendar.id, calendar.external_ref)
    # Compare even when the channel is unknown, so timing does not tell channel ids apart.
    if not hmac.compare_digest(token.encode(), (expected or "\x00" * len(token)).encode()) or target is None:
        count_webhook("google_calendar", resource.kind, "forged")
        raise forbidden("unknown channel or wrong channel token")
    req.context.calendar_target = target


class GoogleCalendarWebhookResource:
    """``POST /webhooks/google/calendar``: Google Calendar push notifications (headers only, empty body)."""

    kind = "calendar"

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @falcon.before(google_channel)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        target: _Target = req.context.calendar_target
        state = req.get_header("X-Goog-Resource-State") or ""
        number = req.get_header("X-Goog-Message-Number") or ""
        channel_id = req.get_header("X-Goog-Channel-ID") or ""
        # ASCII only: str.isdigit() also takes "²" and "١", which int() then refuses (or reads as another number).
        if not (number.isascii() and number.isdigit() and len(number) <= MAX_MESSAGE_NUMBER_DIGITS):
            raise malformed("X-Goog-Message-Number is missing or not a number")
        payload = {
            "channel_id": channel_id,
            "resource_id": req.get_header("X-Goog-Resource-ID"),
            "resource_state": state,
            "message_number": int(number),
            "channel_expiration": req.get_header("X-Goog-Channel-Expiration"),
        }
        # "sync" only confirms a new channel; "exists"/"not_exists" mean the calendar's events changed.
        outcome = _record(
            self.sessions,
            provider="google_calendar",
            provider_ref=f"{channel_id}:{number}",
            kind=state or "unknown",
            payload=payload,
            targets=[target],
            notified_provider="google",
            outcome="accepted" if state in _GOOGLE_CHANGE_STATES else "ignored",
            correlation_id=_correlation(req),
        )
        count_webhook("google_calendar", self.kind, outcome)
        resp.status = falcon.HTTP_200
        resp.set_header("X-Webhook-Outcome", outcome)
        resp.media = {"received": True, "outcome": outcome}


# --- Jobber ----------------------------------------------------------------------------------------------------


def jobber_signature_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def jobber_signature(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """``falcon.before``: HMAC-SHA256 of the raw body with the app's client secret, base64, constant-time compare."""
    assert isinstance(resource, JobberWebhookResource)
    body = read_body(req, resource.max_body_bytes)
    given = req.get_header(JOBBER_SIGNATURE_HEADER) or ""
    if not given or not hmac.compare_digest(given.encode(), jobber_signature_of(resource.secret, body).encode()):
        count_webhook("jobber", resource.kind, "forged")
        raise forbidden(f"missing or wrong {JOBBER_SIGNATURE_HEADER}")
    document = parse_json(body)
    if not isinstance(document, dict):
        raise malformed("JSON body must be an object")
    req.context.jobber_event = document


class JobberWebhookResource:
    """``POST /webhooks/jobber``: ``{"data": {"webHookEvent": {"topic", "accountId", "itemId", "occurredAt"}}}``."""

    kind = "calendar"

    def __init__(self, sessions: sessionmaker[Session], secret: str, max_body_bytes: int) -> None:
        self.sessions = sessions
        self.secret = secret
        self.max_body_bytes = max_body_bytes

    @falcon.before(jobber_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document: dict[str, Any] = req.context.jobber_event
        hook = (document.get("data") or {}).get("webHookEvent") if isinstance(document.get("data"), dict) else None
        if not isinstance(hook, dict):
            raise malformed("data.webHookEvent is missing")
        fields = {name: hook.get(name) for name in ("topic", "accountId", "itemId", "occurredAt")}
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise malformed("webHookEvent needs topic, accountId, itemId and occurredAt")
        topic, account_id = str(fields["topic"]), str(fields["accountId"])
        with self.sessions() as session:
            targets = [
                _Target(calendar.tenant_id, calendar.id, calendar.external_ref)
                for calendar in calendars_for_jobber_account(session, account_id=account_id)
            ]
        if not targets:
            outcome = "unroutable"
        elif _JOBBER_TOPIC.match(topic):
            outcome = "accepted"
        else:
            outcome = "ignored"
        outcome = _record(
            self.sessions,
            provider="jobber",
            provider_ref=f"{account_id}:{topic}:{fields['itemId']}:{fields['occurredAt']}",
            kind=topic,
            payload={"webHookEvent": fields},
            targets=targets,
            notified_provider="jobber",
            outcome=outcome,
            correlation_id=_correlation(req),
        )
        count_webhook("jobber", self.kind, outcome)
        resp.status = falcon.HTTP_200
        resp.set_header("X-Webhook-Outcome", outcome)
        resp.media = {"received": True, "outcome": outcome}


def register_calendar_webhooks(app: falcon.App, settings: Settings, deps: Any) -> None:
    """Both calendar webhook routes; ``deps`` is the ingress ``IngressDeps`` (only ``sessions`` is used)."""
    app.add_route("/webhooks/google/calendar", GoogleCalendarWebhookResource(deps.sessions))
    app.add_route(
        "/webhooks/jobber",
        JobberWebhookResource(
            deps.sessions, settings.jobber_webhook_secret.get_secret_value(), settings.max_body_bytes
        ),
    )


__all__ = [
    "GoogleCalendarWebhookResource",
    "JobberWebhookResource",
    "jobber_signature_of",
    "register_calendar_webhooks",
]
