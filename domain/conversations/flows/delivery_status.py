"""Delivery status: a provider's callback (or poll) moves a message forward, never backwards."""

from __future__ import annotations

from db.metrics import MESSAGES, PROVIDER_ERRORS
from db.settings import Settings
from domain.conversations.flows.common import subscriptions
from domain.conversations.messaging import PROVIDER_STATUS
from domain.conversations.ports import InboundKeywords
from domain.conversations.store import StoreFactory
from domain.events.catalog import MessageStatusChanged, MessageStatusReported
from domain.events.handling import HandlerContext, TooEarly

# The provider's "this number has opted out" error: compliance records it as an opt-out.
PROVIDER_OPTED_OUT = 21610


class MessageNotYetKnown(TooEarly):
    """A status callback raced ahead of the commit that recorded the provider's SID; retried with backoff."""


@subscriptions.on(MessageStatusReported)
def apply_delivery_status(
    event: MessageStatusReported,
    ctx: HandlerContext,
    *,
    keywords: InboundKeywords,
    conversation_store: StoreFactory,
    settings: Settings,
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    status = PROVIDER_STATUS[event.status]
    moved = store.advance_status(
        tenant_id=ctx.tenant_id, sid=event.message_sid, status=status, error_code=event.error_code
    )
    if moved is None:
        known = store.knows_message(tenant_id=ctx.tenant_id, sid=event.message_sid)
        if not known and ctx.attempt < settings.delivery_max_attempts:
            raise MessageNotYetKnown(event.message_sid)
        # On the last attempt an unknown SID is dropped, not dead-lettered: the provider poll repairs its status.
        return  # a stale, duplicated or out-of-order callback: the message never moves backwards
    ctx.after_commit(MESSAGES.labels(status=status).inc)
    ctx.emit(
        MessageStatusChanged(
            message_id=moved.message_id,
            provider_ref=event.message_sid,
            previous_status=moved.previous,
            status=status,  # type: ignore[arg-type]
            error_code=event.error_code,
        )
    )
    if event.error_code is not None:
        ctx.after_commit(PROVIDER_ERRORS.labels(provider="twilio", code=str(event.error_code)).inc)
    if event.error_code == PROVIDER_OPTED_OUT:
        keywords.record_provider_opt_out(
            ctx.session, tenant_id=ctx.tenant_id, phone=moved.to_number, message_ref=event.message_sid, events=ctx
        )
