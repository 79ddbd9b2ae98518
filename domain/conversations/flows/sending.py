"""The sender: the one place a message leaves, after the preflight, exactly once even across crashes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from db.metrics import FIRST_SMS_LATENCY, MESSAGES, PROVIDER_ERRORS
from domain.conversations.flows.common import AUTOMATED_PURPOSES, subscriptions
from domain.conversations.ports import InboundKeywords, SendFailed, SendGate, SendWindow, SmsSender
from domain.conversations.store import ConversationStore, OutboundMessage, StoreFactory
from domain.events.catalog import MessageBlocked, MessageDeferred, MessageQueued, OutboundMessageRequested
from domain.events.handling import HandlerContext

# A confirmation texted while the caller is in the middle of an exchange is a reply to them, not a cold message.
REPLYING_WITHIN = timedelta(minutes=15)


@subscriptions.on(OutboundMessageRequested)
def send_message(
    event: OutboundMessageRequested,
    ctx: HandlerContext,
    *,
    gate: SendGate,
    sms: SmsSender,
    keywords: InboundKeywords,
    conversation_store: StoreFactory,
    send_window: SendWindow,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    message = store.outbound_message(tenant_id=ctx.tenant_id, message_id=event.message_id)
    if message.status != "pending":
        return
    if message.not_before is not None and message.not_before > clock():
        return  # deferred by quiet hours: the scheduler asks for it again when its time comes
    state = None
    if event.conversation_id is not None:
        state = store.state_for_send(event.conversation_id)
    if (
        state == "human"
        and message.purpose in AUTOMATED_PURPOSES
        and not (event.conversation_id is not None and store.acknowledges_takeover(event.conversation_id, message.id))
    ):
        # The lease is airtight: nothing automated reaches the caller but the takeover's own acknowledgement.
        _block(ctx, store, message.id, event.conversation_id, {"allowed": False, "reason": "human_takeover"})
        return
    decision = gate.check(
        ctx.session,
        tenant_id=ctx.tenant_id,
        to_number=message.to_number,
        conversation_state=state,
        purpose=message.purpose,
    )
    if not decision.allowed:
        _block(ctx, store, message.id, event.conversation_id, decision.as_record())
        return
    record = decision.as_record()
    replying = (
        message.purpose == "confirmation"
        and event.conversation_id is not None
        and store.caller_wrote_since(event.conversation_id, clock() - REPLYING_WITHIN)
    )
    if send_window.applies(ctx.session, tenant_id=ctx.tenant_id, purpose=message.purpose, replying=replying):
        # Two sends to one number serialise here, so a state's daily cap counts the one committing beside it.
        store.lock_recipient(tenant_id=ctx.tenant_id, to_number=message.to_number)
        now = clock()
        recent = store.automated_sends_since(
            tenant_id=ctx.tenant_id,
            to_number=message.to_number,
            since=now - timedelta(hours=24),
            purposes=send_window.counted_purposes,
        )
        verdict = send_window.assess(
            ctx.session, tenant_id=ctx.tenant_id, to_number=message.to_number, now=now, recent=recent
        )
        record = {**record, **verdict.as_record()}
        if not verdict.send_now:
            store.defer(message.id, verdict.not_before, record)
            ctx.emit(
                MessageDeferred(
                    message_id=message.id,
                    conversation_id=event.conversation_id,
                    purpose=message.purpose,
                    not_before=verdict.not_before,
                    reason=verdict.reason or "quiet_hours",  # type: ignore[arg-type]
                    rule_id=verdict.rule_id,
                    rule_version=verdict.rule_version,
                )
            )
            return
    earlier = store.record_send_intent(message.id, clock())
    if earlier is not None:
        # A previous attempt may have reached the provider and died before committing: look before sending again.
        found = sms.find_sent(
            to=message.to_number, from_=message.from_number, body=message.body, since=earlier - timedelta(seconds=5)
        )
        if found is not None:
            _queued(ctx, store, message, found.sid, record, clock(), segments=None)
            return
    try:
        accepted = sms.send(
            decision,
            tenant_id=ctx.tenant_id,
            to=message.to_number,
            from_=message.from_number,
            body=message.body,
            correlation_id=ctx.envelope.correlation_id,
        )
    except SendFailed as error:
        # Counted per attempt, not after commit: each is a call the provider refused, whatever the delivery does next.
        PROVIDER_ERRORS.labels(provider="twilio", code=str(error.code)).inc()
        if error.retryable:
            raise
        store.mark_failed(message.id, error.code, record)
        ctx.after_commit(MESSAGES.labels(status="failed").inc)
        if error.opted_out:
            keywords.record_provider_opt_out(
                ctx.session, tenant_id=ctx.tenant_id, phone=message.to_number, message_ref=str(message.id), events=ctx
            )
        return
    _queued(ctx, store, message, accepted.sid, record, clock(), segments=accepted.num_segments)


def _block(
    ctx: HandlerContext,
    store: ConversationStore,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    record: dict[str, Any],
) -> None:
    store.mark_blocked(message_id, record)
    ctx.after_commit(MESSAGES.labels(status="blocked").inc)
    ctx.emit(MessageBlocked(message_id=message_id, conversation_id=conversation_id, reason=str(record.get("reason"))))


def _queued(
    ctx: HandlerContext,
    store: ConversationStore,
    message: OutboundMessage,
    sid: str,
    record: dict[str, Any],
    now: datetime,
    *,
    segments: int | None,
) -> None:
    latency_ms = None
    if message.purpose == "first_response" and message.reference_at is not None:
        latency_ms = max(0, int((now - message.reference_at).total_seconds() * 1000))
    store.mark_queued(message.id, sid=sid, now=now, latency_ms=latency_ms, record=record, segments=segments)
    ctx.after_commit(MESSAGES.labels(status="queued").inc)
    if latency_ms is not None:
        seconds = latency_ms / 1000
        ctx.after_commit(lambda: FIRST_SMS_LATENCY.observe(seconds))
    ctx.emit(
        MessageQueued(
            message_id=message.id,
            conversation_id=message.conversation_id,
            provider_ref=sid,
            queued_at=now,
            purpose=message.purpose,
            first_response_latency_ms=latency_ms,
        )
    )
