"""The Falcon WSGI front door: ``create_app(settings)`` wires resources with their collaborators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings
from ingress.api import register_api
from ingress.errors import register_error_handlers
from ingress.middleware import BodyLimitMiddleware, CorrelationMiddleware
from ingress.recording import WebhookRecorder
from ingress.resources.calendar import register_calendar_webhooks
from ingress.resources.health import HealthResource, ReadinessResource
from ingress.resources.stripe_webhook import StripeWebhookResource
from ingress.resources.twilio import SmsResource, SmsStatusResource, VoiceResource, VoiceStatusResource
from ingress.staff_app import register_staff_app
from ingress.verification import StripeVerifier, TwilioVerifier

# Connections a worker process may open beyond one per thread (the readiness probe, the API's sessions).
POOL_OVERFLOW = 4


@dataclass
class IngressDeps:
    """Collaborators the resources are built with; tests pass their own."""

    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis


def build_deps(settings: Settings) -> IngressDeps:
    # A connection that died is invalidated on its first error; that request answers 503 and the provider retries
    # it (nothing was half-written).
    engine = make_engine(
        settings, pool_size=settings.ingress_threads, max_overflow=POOL_OVERFLOW, application_name="nmc-ingress"
    )
    return IngressDeps(
        engine=engine,
        sessions=make_session_factory(engine),
        redis=redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
    )


def create_app(settings: Settings, deps: IngressDeps | None = None) -> falcon.App:
    deps = deps or build_deps(settings)
    middleware: list[Any] = [CorrelationMiddleware(), BodyLimitMiddleware(settings.max_body_bytes)]
    app = falcon.App(middleware=middleware)
    app.req_options.auto_parse_form_urlencoded = False  # signatures need the raw body; resources parse it
    register_error_handlers(app)  # one JSON error shape: {"error": {"code": ..., "message": ...}}

    app.add_route("/healthz", HealthResource())
    app.add_route("/readyz", ReadinessResource(deps.engine, deps.redis))
    register_webhooks(app, settings, deps)

    register_api(app, settings, deps)
    register_calendar_webhooks(app, settings, deps)
    register_staff_app(app, settings, deps)
    return app


def register_webhooks(app: falcon.App, settings: Settings, deps: IngressDeps) -> None:
    """Twilio and Stripe webhooks: verified in falcon.before hooks, deduped and recorded in one transaction."""
    recorder = WebhookRecorder(deps.engine, chain_idle_hours=settings.caller_chain_idle_hours)
    twilio = TwilioVerifier(
        settings.twilio_auth_token.get_secret_value(), settings.public_base_url, settings.max_body_bytes
    )
    for path, resource in (
        ("/webhooks/twilio/voice", VoiceResource),
        ("/webhooks/twilio/voice/status", VoiceStatusResource),
        ("/webhooks/twilio/sms", SmsResource),
        ("/webhooks/twilio/sms/status", SmsStatusResource),
    ):
        app.add_route(path, resource(recorder, twilio, settings.public_base_url))
    stripe = StripeVerifier(
        settings.stripe_webhook_secret.get_secret_value(), settings.stripe_tolerance_seconds, settings.max_body_bytes
    )
    app.add_route("/webhooks/stripe", StripeWebhookResource(recorder, stripe))
