"""The callback grace period: a held first SMS is withheld when someone calls back, else sent when the grace ends.

Two ways a callback is seen: Twilio's call webhooks (``CallAnswered``: the caller's re-call that a person picked up,
or an answered call from the business's Twilio number), and at the grace's end Twilio's call list, which also shows
calls whose webhooks have not arrived yet. A call from a staff member's own cell phone never reaches Twilio and so is
never seen. Each decision is one conditional UPDATE on the grace (``decide_first_response`` /
``withhold_for_answered_call``): of a callback and the grace's end arriving together, exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from db.settings import Settings
from domain.conversations.flows.common import profile, subscriptions
from domain.conversations.flows.first_response import send_first_response
from domain.conversations.ports import CallLog, CallLogUnavailable, TenantDirectory
from domain.conversations.store import StoreFactory
from domain.events.catalog import CallAnswered, FirstResponseDecided, FirstResponseGraceEnded
from domain.events.handling import HandlerContext

# Attempts at reading the call list before the SMS goes on what the webhooks said: the caller should not wait on
# the provider's outage for long.
CALL_LIST_ATTEMPTS = 2
REASON_BY_DIRECTION = {"inbound": "caller_recall_answered", "outbound": "staff_called_back"}


@subscriptions.on(CallAnswered, db_only=True)
def record_answered_call(event: CallAnswered, ctx: HandlerContext, *, conversation_store: StoreFactory) -> None:
    """A person spoke with the caller: their conversation remembers when, so no automated follow-up nudges them."""
    assert ctx.tenant_id is not None
    conversation_store(ctx.session).note_answered_call(
        tenant_id=ctx.tenant_id, caller=event.customer_phone, answered_at=event.answered_at
    )


@subscriptions.on(CallAnswered, db_only=True)
def withhold_after_answered_call(event: CallAnswered, ctx: HandlerContext, *, conversation_store: StoreFactory) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    grace = store.withhold_for_answered_call(
        tenant_id=ctx.tenant_id,
        caller=event.customer_phone,
        answered_at=event.answered_at,
        reason=REASON_BY_DIRECTION[event.direction],
        call_sid=event.call_sid,
    )
    if grace is None:
        return  # no held SMS (grace off, already decided, or none for this number)
    ctx.emit(
        FirstResponseDecided(
            conversation_id=grace.conversation_id,
            grace_id=grace.id,
            decision="withheld",
            reason=REASON_BY_DIRECTION[event.direction],  # type: ignore[arg-type]
            seen_by="webhook",
            deciding_call_sid=event.call_sid,
        )
    )


@subscriptions.on(FirstResponseGraceEnded)
def decide_first_response(
    event: FirstResponseGraceEnded,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    conversation_store: StoreFactory,
    call_log: CallLog,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    grace = store.first_response_grace(tenant_id=ctx.tenant_id, grace_id=event.grace_id)
    if grace is None or grace.decision is not None:
        return  # a webhook withheld it first
    state = store.state_for_send(grace.conversation_id)
    if state != "open":
        # A person took it (or it ended) during the grace: the automated first text would be out of place.
        reason = "staff_took_over" if state == "human" else "conversation_ended"
        if store.decide_first_response(
            tenant_id=ctx.tenant_id, grace_id=grace.id, decision="withheld", reason=reason, call_sid=None
        ):
            ctx.emit(
                FirstResponseDecided(
                    conversation_id=grace.conversation_id,
                    grace_id=grace.id,
                    decision="withheld",
                    reason=reason,  # type: ignore[arg-type]
                    seen_by=None,
                    deciding_call_sid=None,
                )
            )
        return
    seen_by: str | None = None
    try:
        callback = call_log.callback_since(
            business_number=grace.business_number,
            customer=grace.caller,
            since=grace.missed_at,
            missed_call_sid=grace.call_sid,
        )
    except CallLogUnavailable:
        if ctx.attempt < CALL_LIST_ATTEMPTS:
            raise
        callback, reason = None, "no_callback_call_list_unavailable"
    else:
        reason = "no_callback" if callback is None else callback.reason
        seen_by = None if callback is None else "call_list"
    decision = "sent" if callback is None else "withheld"
    if not store.decide_first_response(
        tenant_id=ctx.tenant_id,
        grace_id=grace.id,
        decision=decision,
        reason=reason,
        call_sid=None if callback is None else callback.call_sid,
    ):
        return  # an answered call's webhook decided it while we read the call list
    ctx.emit(
        FirstResponseDecided(
            conversation_id=grace.conversation_id,
            grace_id=grace.id,
            decision=decision,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            seen_by=seen_by,  # type: ignore[arg-type]
            deciding_call_sid=None if callback is None else callback.call_sid,
        )
    )
    if callback is None:
        now = clock()
        send_first_response(
            ctx, store, profile(ctx, directory, now), settings, conversation_id=grace.conversation_id,
            caller=grace.caller, missed_at=grace.send_after, now=now,
        )  # fmt: skip
