"""Stripe events, signed and shaped as Stripe sends them, duplicated and reordered, end in the right state."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any

import stripe
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.billing.handlers import update_subscription
from domain.events.catalog import StripeEventReceived, SubscriptionUpdated
from domain.events.handling import HandlerContext
from domain.events.outbox import build_envelope
from domain.events.sink import RootSink
from domain.identity import service as identity
from domain.identity.handlers import recompute_feature_gates

SECRET = "whsec_test_secret"
_ids = itertools.count(1)


def stripe_event(event_type: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{next(_ids):08d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


def subscription(tenant_id: uuid.UUID, status: str, price: str = "price_pro_monthly") -> dict[str, Any]:
    return {
        "id": "sub_123",
        "object": "subscription",
        "customer": "cus_123",
        "status": status,
        "metadata": {"tenant_id": str(tenant_id)},
        "current_period_end": 1_900_000_000,
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price, "lookup_key": None}}]},
    }


def deliver(sessions: sessionmaker[Session], event: dict[str, Any]) -> None:
    """Sign as Stripe does, verify with the stripe SDK, then run billing's and identity's handlers."""
    payload = json.dumps(event)
    timestamp = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    verified = stripe.Webhook.construct_event(payload, f"t={timestamp},v1={signature}", SECRET)
    received = StripeEventReceived(
        stripe_event_id=verified["id"],
        type=verified["type"],
        created=verified["created"],
        livemode=verified["livemode"],
        data_object=event["data"]["object"],
    )
    with transaction(sessions) as session:
        ctx = HandlerContext(session, build_envelope(received, tenant_id=None))
        update_subscription(received, ctx)
        emitted = session.execute(
            text("SELECT tenant_id, payload FROM outbox_events WHERE causation_id = :e"), {"e": ctx.envelope.event_id}
        ).all()
    for tenant_id, payload in emitted:
        follow = SubscriptionUpdated(**{**payload, "current_period_end": payload["current_period_end"]})
        with transaction(sessions) as session:
            recompute_feature_gates(follow, HandlerContext(session, build_envelope(follow, tenant_id=tenant_id)))


def state(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> tuple[str, str, dict[str, bool]]:
    with transaction(sessions) as session:
        row = session.execute(
            text("SELECT plan, status FROM bill_subscriptions WHERE tenant_id = :t"), {"t": tenant_id}
        )
        plan, status = row.one()
        return plan, status, identity.feature_gates_for(session, tenant_id)


def new_tenant(sessions: sessionmaker[Session]) -> uuid.UUID:
    with transaction(sessions) as session:
        return identity.create_tenant(
            session,
            name="Ace",
            number="+13105559000",
            forward_to="+13105559001",
            timezone="UTC",
            events=RootSink(session),
        ).id


def lifecycle(tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    checkout = {
        "id": "cs_1",
        "object": "checkout.session",
        "client_reference_id": str(tenant_id),
        "customer": "cus_123",
        "subscription": "sub_123",
        "metadata": {},
    }
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_123", "subscription": "sub_123"}
    return [
        stripe_event("checkout.session.completed", 1000, checkout),
        stripe_event("customer.subscription.created", 1000, subscription(tenant_id, "incomplete")),
        stripe_event("customer.subscription.updated", 1000, subscription(tenant_id, "active")),
        stripe_event("invoice.paid", 1001, invoice),
        stripe_event("invoice.payment_failed", 2000, invoice),
        stripe_event("customer.subscription.updated", 2000, subscription(tenant_id, "past_due")),
        stripe_event("invoice.paid", 2100, invoice),
        stripe_event("customer.subscription.updated", 2100, subscription(tenant_id, "active")),
    ]


def test_in_order_delivery_ends_active_on_pro(sessions: sessionmaker[Session]) -> None:
    tenant_id = new_tenant(sessions)
    for event in lifecycle(tenant_id):
        deliver(sessions, event)
    plan, status, gates = state(sessions, tenant_id)
    assert (plan, status) == ("pro", "active")
    assert gates["reporting"] is True


def test_duplicated_and_reordered_delivery_converges_on_the_newest_state(sessions: sessionmaker[Session]) -> None:
    tenant_id = new_tenant(sessions)
    events = lifecycle(tenant_id)
    scrambled = [events[7], events[5], events[7], events[2], events[0], events[4], events[1], events[6], events[3]]
    for event in scrambled:
        deliver(sessions, event)
    assert state(sessions, tenant_id)[:2] == ("pro", "active")


def test_deleted_is_final_even_when_an_older_update_arrives_after_it(sessions: sessionmaker[Session]) -> None:
    tenant_id = new_tenant(sessions)
    deliver(sessions, stripe_event("customer.subscription.updated", 3000, subscription(tenant_id, "active")))
    deliver(sessions, stripe_event("customer.subscription.deleted", 4000, subscription(tenant_id, "canceled")))
    deliver(sessions, stripe_event("customer.subscription.updated", 3500, subscription(tenant_id, "active")))
    deliver(sessions, stripe_event("customer.subscription.updated", 5000, subscription(tenant_id, "active")))
    _plan, status, gates = state(sessions, tenant_id)
    assert status == "canceled"
    assert gates
    assert not any(gates.values())
    with transaction(sessions) as session:
        changes = (
            session.execute(
                text(
                    "SELECT payload->>'subscription_status' FROM outbox_events"
                    " WHERE event_name = 'nmc.identity.FeatureGatesChanged' ORDER BY seq"
                )
            )
            .scalars()
            .all()
        )
    assert changes == ["active", "canceled"]


def test_payment_failure_opens_a_grace_period_then_recovery(sessions: sessionmaker[Session]) -> None:
    tenant_id = new_tenant(sessions)
    invoice = {"id": "in_2", "object": "invoice", "customer": "cus_123", "subscription": "sub_123"}
    deliver(
        sessions,
        stripe_event("customer.subscription.created", 100, subscription(tenant_id, "active", "price_starter_monthly")),
    )
    deliver(sessions, stripe_event("invoice.payment_failed", 200, invoice))
    plan, status, gates = state(sessions, tenant_id)
    assert (plan, status) == ("starter", "past_due")
    assert gates["sms"] is True  # inside the starter plan's 7-day grace
    with transaction(sessions) as session:
        session.execute(text("UPDATE id_feature_gates SET past_due_since = now() - interval '8 days'"))
    assert state(sessions, tenant_id)[2]["sms"] is False
    deliver(sessions, stripe_event("invoice.paid", 300, invoice))
    assert state(sessions, tenant_id)[1:] == ("active", state(sessions, tenant_id)[2])
    assert state(sessions, tenant_id)[2]["sms"] is True
