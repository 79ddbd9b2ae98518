"""The webhook ingress under falcon.testing, with one tenant and a way to sign as Twilio and Stripe do."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
import stripe
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from db.settings import Settings
from ingress.app import IngressDeps, create_app
from ingress.verification import FormParams

TENANT_NUMBER = "+13105550100"
FORWARD_TO = "+13105550199"
CALLER = "+13105551212"
ROUTES = (
    "/webhooks/twilio/voice",
    "/webhooks/twilio/voice/status",
    "/webhooks/twilio/sms",
    "/webhooks/twilio/sms/status",
    "/webhooks/stripe",
)


@dataclass
class Env:
    client: falcon.testing.TestClient
    settings: Settings
    engine: Engine
    tenant_id: uuid.UUID

    def sign(self, path: str, params: list[tuple[str, str]], query: str = "") -> str:
        url = self.settings.public_base_url + path + (f"?{query}" if query else "")
        return RequestValidator(self.settings.twilio_auth_token.get_secret_value()).compute_signature(
            url, FormParams.from_pairs(params)
        )

    def twilio(
        self,
        path: str,
        params: list[tuple[str, str]],
        *,
        headers: dict[str, str] | None = None,
        signature: str | None = None,
    ) -> falcon.testing.Result:
        return self.client.simulate_post(
            path,
            body=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature or self.sign(path, params),
                **(headers or {}),
            },
        )

    def stripe(self, document: dict[str, Any], *, at: float | None = None) -> falcon.testing.Result:
        body = json.dumps(document)
        header = stripe.WebhookSignature.generate_signature_header(
            body, self.settings.stripe_webhook_secret.get_secret_value(), timestamp=int(at or time.time())
        )
        return self.client.simulate_post(
            "/webhooks/stripe", body=body, headers={"Content-Type": "application/json", "Stripe-Signature": header}
        )

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def counts(self) -> tuple[int, int]:
        (row,) = self.rows("SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM outbox_events)")
        return int(row[0]), int(row[1])


def add_tenant(engine: Engine, number: str = TENANT_NUMBER, ring_timeout: int | None = None) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO id_tenants (id, name, timezone, forward_to) VALUES (:id, 'Acme', 'UTC', :fwd)"),
            {"id": tenant_id, "fwd": FORWARD_TO},
        )
        if ring_timeout is not None:
            conn.execute(
                text("UPDATE id_tenants SET ring_timeout_seconds = :t WHERE id = :id"),
                {"t": ring_timeout, "id": tenant_id},
            )
        conn.execute(
            text("INSERT INTO id_phone_numbers (id, tenant_id, e164) VALUES (:id, :tenant, :e164)"),
            {"id": uuid.uuid4(), "tenant": tenant_id, "e164": number},
        )
    return tenant_id


def make_env(settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> Env:
    settings = settings.model_copy(update={"public_base_url": "https://hooks.nmc.test"})
    deps = IngressDeps(engine=engine, sessions=sessions, redis=redis.Redis.from_url(settings.redis_url))
    app = create_app(settings, deps)
    return Env(falcon.testing.TestClient(app), settings, engine, add_tenant(engine))


@pytest.fixture
def env(settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> Env:
    return make_env(settings, engine, sessions)
