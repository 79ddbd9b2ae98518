"""Billing turns verified Stripe events into subscription state and ``SubscriptionUpdated``."""

from __future__ import annotations

from domain.billing import service
from domain.events.catalog import StripeEventReceived
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("billing")


@subscriptions.on(StripeEventReceived, db_only=True)
def update_subscription(event: StripeEventReceived, ctx: HandlerContext) -> None:
    if event.type not in service.HANDLED_EVENTS:
        return
    service.apply_stripe_event(
        ctx.session,
        event_type=event.type,
        created=event.created,
        data_object=event.data_object,
        tenant_hint=ctx.tenant_id,
        events=ctx,
    )
