"""Billing: Stripe events (duplicated, out of order) → ``bill_*`` state → ``SubscriptionUpdated``.

Ordering rule: a subscription row only moves to a fact whose Stripe ``created`` is newer than the one it holds (at
an equal second, the status later in the lifecycle wins), and a canceled subscription never comes back to life
(Stripe never reactivates one). Both are in one conditional upsert, so concurrent deliveries cannot interleave.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.billing.models import Customer, PlanPrice, Subscription
from domain.events.catalog import SubscriptionUpdated
from domain.events.sink import EventSink

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
HANDLED_EVENTS = SUBSCRIPTION_EVENTS | INVOICE_EVENTS | {"checkout.session.completed"}
STATUSES = ("trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused")
# At an equal ``created`` second the status further along this list wins (created → updated → deleted).
LIFECYCLE = "ARRAY['incomplete','trialing','active','past_due','unpaid','paused','incomplete_expired','canceled']"
UNKNOWN_PLAN = "unknown"


class UnattributedEvent(RuntimeError):
    """No tenant is known yet for this Stripe customer (its checkout event has not arrived): retried later."""


@dataclass(frozen=True)
class Outcome:
    applied: bool
    subscription_ref: str | None = None
    status: str | None = None


def apply_stripe_event(
    session: Session,
    *,
    event_type: str,
    created: int,
    data_object: Mapping[str, Any],
    tenant_hint: uuid.UUID | None = None,
    events: EventSink,
) -> Outcome:
    sink = events
    if event_type == "checkout.session.completed":
        _record_customer(session, data_object, tenant_hint)
        return Outcome(applied=True)
    if event_type in SUBSCRIPTION_EVENTS:
        return _apply_subscription(session, event_type, created, data_object, tenant_hint, sink)
    if event_type in INVOICE_EVENTS:
        return _apply_invoice(session, event_type, created, data_object, sink)
    return Outcome(applied=False)


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _record_customer(session: Session, obj: Mapping[str, Any], tenant_hint: uuid.UUID | None) -> None:
    tenant_id = _uuid_or_none(obj.get("client_reference_id")) or _uuid_or_none(
        (obj.get("metadata") or {}).get("tenant_id")
    )
    tenant_id = tenant_id or tenant_hint
    customer = obj.get("customer")
    if tenant_id is None or not customer:
        return
    session.execute(
        insert(Customer)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, stripe_customer_id=str(customer))
        .on_conflict_do_nothing()
    )


def _tenant_for(session: Session, obj: Mapping[str, Any], tenant_hint: uuid.UUID | None) -> uuid.UUID:
    tenant_id = _uuid_or_none((obj.get("metadata") or {}).get("tenant_id")) or tenant_hint
    if tenant_id is None:
        tenant_id = session.scalar(
            select(Customer.tenant_id).where(Customer.stripe_customer_id == str(obj.get("customer")))
        )
    if tenant_id is None:
        raise UnattributedEvent(f"no tenant known for Stripe customer {obj.get('customer')!r}")
    return tenant_id


def _plan_for(session: Session, obj: Mapping[str, Any]) -> str:
    """Plans are data: the price id maps to a plan in ``bill_plan_prices``; lookup_key/metadata are fallbacks."""
    items = ((obj.get("items") or {}).get("data")) or []
    price = (items[0].get("price") or {}) if items else {}
    price_id = price.get("id")
    if price_id:
        plan = session.scalar(select(PlanPrice.plan_code).where(PlanPrice.stripe_price_id == price_id))
        if plan:
            return plan
    fallback = price.get("lookup_key") or (obj.get("metadata") or {}).get("plan")
    return str(fallback) if fallback else UNKNOWN_PLAN


def _period_end(obj: Mapping[str, Any]) -> datetime | None:
    value = obj.get("current_period_end")
    if value is None:  # newer Stripe API versions carry the period on the subscription item
        items = ((obj.get("items") or {}).get("data")) or []
        value = items[0].get("current_period_end") if items else None
    return datetime.fromtimestamp(int(value), UTC) if value else None


@dataclass(frozen=True)
class SubscriptionFact:
    tenant_id: uuid.UUID
    subscription_ref: str
    customer_ref: str
    plan: str
    status: str
    period_end: datetime | None
    created: int


def _upsert(session: Session, fact: SubscriptionFact) -> bool:
    row = session.execute(
        text(
            f"""
            INSERT INTO bill_subscriptions AS s (id, tenant_id, stripe_subscription_id, stripe_customer_id, plan,
                                                 status, current_period_end, source_created, updated_at)
            VALUES (:id, :tenant, :ref, :customer, :plan, :status, :period_end, :created, now())
            ON CONFLICT (stripe_subscription_id) DO UPDATE SET
              plan = EXCLUDED.plan, status = EXCLUDED.status, current_period_end = EXCLUDED.current_period_end,
              source_created = EXCLUDED.source_created, updated_at = now()
            WHERE s.status NOT IN ('canceled', 'incomplete_expired')
              AND (s.source_created < EXCLUDED.source_created
                   OR (s.source_created = EXCLUDED.source_created
                       AND array_position({LIFECYCLE}, EXCLUDED.status) >= array_position({LIFECYCLE}, s.status)))
              AND (s.plan, s.status, s.current_period_end)
                  IS DISTINCT FROM (EXCLUDED.plan, EXCLUDED.status, EXCLUDED.current_period_end)
            RETURNING id
            """
        ),
        {
            "id": uuid.uuid4(),
            "tenant": fact.tenant_id,
            "ref": fact.subscription_ref,
            "customer": fact.customer_ref,
            "plan": fact.plan,
            "status": fact.status,
            "period_end": fact.period_end,
            "created": fact.created,
        },
    ).first()
    return row is not None


def _emit(events: EventSink, fact: SubscriptionFact) -> None:
    events.emit(
        SubscriptionUpdated(
            subscription_ref=fact.subscription_ref,
            customer_ref=fact.customer_ref,
            plan=fact.plan,
            status=fact.status,  # type: ignore[arg-type]  # validated against STATUSES by the caller
            current_period_end=fact.period_end,
            source_created=fact.created,
        ),
        tenant_id=fact.tenant_id,
    )


def _apply_subscription(
    session: Session,
    event_type: str,
    created: int,
    obj: Mapping[str, Any],
    tenant_hint: uuid.UUID | None,
    events: EventSink,
) -> Outcome:
    subscription_ref = str(obj["id"])
    status = "canceled" if event_type == "customer.subscription.deleted" else str(obj.get("status"))
    if status not in STATUSES:
        return Outcome(applied=False, subscription_ref=subscription_ref)
    tenant_id = _tenant_for(session, obj, tenant_hint)
    customer_ref = str(obj.get("customer"))
    # The tenant is known now even if checkout.session.completed is still on its way.
    session.execute(
        insert(Customer)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, stripe_customer_id=customer_ref)
        .on_conflict_do_nothing()
    )
    fact = SubscriptionFact(
        tenant_id, subscription_ref, customer_ref, _plan_for(session, obj), status, _period_end(obj), created
    )
    if not _upsert(session, fact):
        return Outcome(applied=False, subscription_ref=subscription_ref)
    _emit(events, fact)
    return Outcome(applied=True, subscription_ref=subscription_ref, status=status)


def _invoice_subscription_ref(obj: Mapping[str, Any]) -> str | None:
    ref = obj.get("subscription")
    if not ref:  # newer API versions: invoice.parent.subscription_details.subscription
        ref = (((obj.get("parent") or {}).get("subscription_details")) or {}).get("subscription")
    return str(ref) if ref else None


def _apply_invoice(
    session: Session, event_type: str, created: int, obj: Mapping[str, Any], events: EventSink
) -> Outcome:
    subscription_ref = _invoice_subscription_ref(obj)
    if subscription_ref is None:
        return Outcome(applied=False)
    current = session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == subscription_ref))
    if current is None:
        return Outcome(applied=False, subscription_ref=subscription_ref)  # the subscription event will carry status
    if event_type == "invoice.payment_failed":
        if current.status not in ("active", "trialing"):
            return Outcome(applied=False, subscription_ref=subscription_ref)
        status = "past_due"
    else:
        if current.status not in ("past_due", "unpaid", "incomplete"):
            return Outcome(applied=False, subscription_ref=subscription_ref)
        status = "active"
    fact = SubscriptionFact(
        current.tenant_id,
        subscription_ref,
        current.stripe_customer_id,
        current.plan,
        status,
        current.current_period_end,
        created,
    )
    if not _upsert(session, fact):
        return Outcome(applied=False, subscription_ref=subscription_ref)
    _emit(events, fact)
    return Outcome(applied=True, subscription_ref=subscription_ref, status=status)


@dataclass(frozen=True)
class SubscriptionRecord:
    """A tenant's latest known subscription, as billing hands it out."""

    stripe_subscription_id: str
    plan: str
    status: str
    current_period_end: datetime | None


def subscription_for(session: Session, tenant_id: uuid.UUID) -> SubscriptionRecord | None:
    row = session.scalar(
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id)
        .order_by(Subscription.source_created.desc())
        .limit(1)
    )
    if row is None:
        return None
    return SubscriptionRecord(row.stripe_subscription_id, row.plan, row.status, row.current_period_end)
