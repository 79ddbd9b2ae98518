"""Identity turns Billing's subscription facts into feature gates."""

from __future__ import annotations

from domain.events.catalog import SubscriptionUpdated
from domain.events.handling import HandlerContext, Subscriptions
from domain.identity import service

subscriptions = Subscriptions("identity")


@subscriptions.on(SubscriptionUpdated, db_only=True)
def recompute_feature_gates(event: SubscriptionUpdated, ctx: HandlerContext) -> None:
    if ctx.tenant_id is None:
        return  # billing only emits for a subscription it could attribute to a tenant
    service.apply_subscription(
        ctx.session,
        tenant_id=ctx.tenant_id,
        plan=event.plan,
        status=event.status,
        source_created=event.source_created,
        events=ctx,
    )
