"""The whole ingress app with every gate's secret at hand, for the bad-input and fuzz suites."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
import stripe
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from db.engine import transaction
from db.settings import Settings
from domain.catalog import service as catalog
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Shift
from domain.scheduling.records import SlotRequest
from ingress.app import IngressDeps, create_app
from ingress.resources.calendar import jobber_signature_of
from ingress.verification import FormParams
from tests.support import api_world as api
from tests.support.members import join

BASE_URL = "https://hooks.nmc.test"


@dataclass
class Site:
    """The whole ingress app with every gate's secret at hand: a Clerk key, Twilio, Stripe, Jobber, a Google channel."""

    client: falcon.testing.TestClient
    settings: Settings
    keys: api.Keys
    tenant: uuid.UUID
    other_conversation: uuid.UUID
    item: uuid.UUID
    ids: dict[str, uuid.UUID]  # a real row of tenant a for each path parameter name, so requests reach the body

    def api(self, method: str, path: str, body: bytes | None = None, **kwargs: Any) -> falcon.testing.Result:
        headers = {"Authorization": f"Bearer {api.token(self.keys, 'owner_a')}", "Content-Type": "application/json"}
        return self.client.simulate_request(method, path, body=body, headers=headers, **kwargs)

    def twilio_json(self, path: str, body: bytes) -> falcon.testing.Result:
        query = urlencode({"bodySHA256": hashlib.sha256(body).hexdigest()})
        validator = RequestValidator(self.settings.twilio_auth_token.get_secret_value())
        signature = validator.compute_signature(f"{BASE_URL}{path}?{query}", FormParams())
        return self.client.simulate_post(
            path,
            body=body,
            query_string=query,
            headers={"Content-Type": "application/json", "X-Twilio-Signature": signature},
        )

    def twilio_form(self, path: str, params: list[tuple[str, str]]) -> falcon.testing.Result:
        validator = RequestValidator(self.settings.twilio_auth_token.get_secret_value())
        signature = validator.compute_signature(BASE_URL + path, FormParams.from_pairs(params))
        return self.client.simulate_post(
            path,
            body=urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )

    def stripe(self, body: bytes) -> falcon.testing.Result:
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8", "surrogatepass"),
            self.settings.stripe_webhook_secret.get_secret_value(),
            timestamp=int(time.time()),
        )
        return self.client.simulate_post(
            "/webhooks/stripe", body=body, headers={"Content-Type": "application/json", "Stripe-Signature": header}
        )

    def jobber(self, body: bytes) -> falcon.testing.Result:
        signature = jobber_signature_of(self.settings.jobber_webhook_secret.get_secret_value(), body)
        return self.client.simulate_post(
            "/webhooks/jobber",
            body=body,
            headers={"Content-Type": "application/json", "X-Jobber-Hmac-SHA256": signature},
        )

    def google(self, number: str) -> falcon.testing.Result:
        return self.client.simulate_post(
            "/webhooks/google/calendar",
            headers={
                "X-Goog-Channel-ID": "chan-1",
                "X-Goog-Channel-Token": "chan-token",
                "X-Goog-Resource-State": "exists",
                "X-Goog-Message-Number": number,
            },
        )


def make_site(settings: Settings, engine: Engine, sessions: sessionmaker[Session], keys: api.Keys) -> Site:
    """Two tenants (a: owner_a, b: owner_b) as test_api's world has them; tenant a with a conversation, a task, a
    service item, a resource working every day with a hold and an appointment tomorrow, a Google channel and a
    Jobber account; and a conversation of tenant b."""
    with transaction(sessions) as session:
        a, b = api.two_tenants(session)
        resource = scheduling.create_resource(session, tenant_id=a.id, name="Sam", timezone="UTC")
        scheduling.set_working_hours(
            session,
            tenant_id=a.id,
            resource_id=resource.id,
            shifts=[Shift(day, dt_time(8), dt_time(18)) for day in range(7)],
        )
        tech_user_id = join(session, tenant_id=a.id, clerk_user_id="tech_a", role="TECH")
        scheduling.add_calendar(
            session,
            tenant_id=a.id,
            resource_id=resource.id,
            provider="google",
            external_ref="cal-1",
            channel_id="chan-1",
            channel_token="chan-token",
        )
        scheduling.add_calendar(
            session, tenant_id=a.id, resource_id=resource.id, provider="jobber", external_ref="acct-1/user-1"
        )
        item = catalog.create_service_item(
            session,
            tenant_id=a.id,
            name="Leak repair",
            duration_minutes=60,
            price_cents=12500,
            events=RootSink(session),
        )
        other, own, task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        for conversation, tenant in ((other, b.id), (own, a.id)):
            session.execute(
                text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, :c, 'open')"),
                {"id": conversation, "t": tenant, "c": "+13105550100"},
            )
        session.execute(
            text("INSERT INTO conv_operator_tasks (id, tenant_id, kind, note) VALUES (:id, :t, 'confirm', 'check')"),
            {"id": task, "t": a.id},
        )
        now = datetime.now(UTC)
        tomorrow = datetime.combine(now.date() + timedelta(days=1), dt_time(0), tzinfo=UTC)
        slot = {"tenant_id": a.id, "now": now}
        appointment = scheduling.book_slot(
            session,
            SlotRequest(
                resource_id=resource.id,
                service_item_id=item.id,
                starts_at=tomorrow + timedelta(hours=9),
                ends_at=tomorrow + timedelta(hours=10),
                customer_phone="+13105550199",
            ),
            **slot,
            price_cents=12500,
            currency="USD",
            events=RootSink(session),
        )
        hold = scheduling.place_hold(
            session,
            SlotRequest(
                resource_id=resource.id,
                service_item_id=item.id,
                starts_at=tomorrow + timedelta(hours=11),
                ends_at=tomorrow + timedelta(hours=12),
            ),
            **slot,
            ttl_minutes=15,
            events=RootSink(session),
        )
        ids = {
            "conversation_id": own,
            "task_id": task,
            "user_id": tech_user_id,
            "service_item_id": item.id,
            "resource_id": resource.id,
            "hold_id": hold.id,
            "appointment_id": appointment.id,
        }
    app_settings = settings.model_copy(
        update={
            "clerk_jwks_url": keys.url,
            "clerk_issuer": api.ISSUER,
            "clerk_authorized_parties": (api.PARTY,),
            "public_base_url": BASE_URL,
        }
    )
    app = create_app(
        app_settings, IngressDeps(engine=engine, sessions=sessions, redis=redis.Redis.from_url(settings.redis_url))
    )
    return Site(falcon.testing.TestClient(app), app_settings, keys, a.id, other, item.id, ids)


@pytest.fixture
def site(settings: Settings, engine: Engine, sessions: sessionmaker[Session], jwks: api.Keys) -> Site:
    return make_site(settings, engine, sessions, jwks)
