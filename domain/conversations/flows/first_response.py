"""Missed call → first SMS: one per caller per tenant per window, unless a person already has the conversation.

With a callback grace period (the tenant's ``callback_grace_seconds``) the SMS is held instead, and decided when the
grace ends (``flows/callback_grace.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from db.settings import Settings
from domain.conversations.flows.common import (
    alert_staff,
    open_or_get_conversation,
    profile,
    queue_outbound,
    subscriptions,
)
from domain.conversations.messaging import render_first_message
from domain.conversations.ports import TenantDirectory, TenantProfile
from domain.conversations.store import ConversationStore, StoreFactory
from domain.events.catalog import CallMissed, FirstResponseDeferred, StaffCallRecognised
from domain.events.handling import HandlerContext


@subscriptions.on(CallMissed)
def greet_missed_caller(
    event: CallMissed,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    conversation_store: StoreFactory,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    now = clock()
    tenant = profile(ctx, directory, now)
    if tenant.staff_member(event.caller) is not None:
        # A member calling the business line is not a caller to win back: no text, no conversation, and the
        # reports take the missed call back out.
        ctx.emit(
            StaffCallRecognised(call_sid=event.call_sid, phone=event.caller, call_occurred_at=ctx.envelope.occurred_at)
        )
        return
    conversation_id, state = open_or_get_conversation(ctx, store, caller=event.caller, trigger="missed_call")
    claimed = store.claim_first_response(
        tenant_id=ctx.tenant_id,
        caller=event.caller,
        call_sid=event.call_sid,
        now=now,
        window=timedelta(minutes=settings.first_sms_window_minutes),
    )
    if not claimed or state == "human":
        return
    if tenant.callback_grace_seconds > 0:
        send_after = event.missed_at + timedelta(seconds=tenant.callback_grace_seconds)
        grace_id = store.defer_first_response(
            tenant_id=ctx.tenant_id,
            conversation_id=conversation_id,
            caller=event.caller,
            business_number=tenant.number,
            call_sid=event.call_sid,
            missed_at=event.missed_at,
            send_after=send_after,
            correlation_id=ctx.envelope.correlation_id,
            causation_id=ctx.envelope.event_id,
        )
        if grace_id is not None:
            ctx.emit(
                FirstResponseDeferred(
                    conversation_id=conversation_id,
                    grace_id=grace_id,
                    call_sid=event.call_sid,
                    grace_seconds=tenant.callback_grace_seconds,
                    send_after=send_after,
                )
            )
        return
    send_first_response(
        ctx, store, tenant, settings, conversation_id=conversation_id, caller=event.caller, missed_at=event.missed_at,
        now=now,
    )  # fmt: skip


def send_first_response(
    ctx: HandlerContext,
    store: ConversationStore,
    tenant: TenantProfile,
    settings: Settings,
    *,
    conversation_id: uuid.UUID,
    caller: str,
    missed_at: datetime,
    now: datetime,
) -> None:
    """Queue the first SMS and tell staff we texted the caller back. Its latency is measured from ``missed_at``: the
    missed call, or for a held SMS the end of its grace period (the wait is the tenant's choice, not our delay)."""
    template = tenant.first_message_template if tenant.open_now else tenant.after_hours_template
    queue_outbound(
        ctx,
        store,
        conversation_id=conversation_id,
        to_number=caller,
        from_number=tenant.number,
        body=render_first_message(template, business=tenant.name),
        purpose="first_response",
        reference_at=missed_at,
    )
    alert_staff(
        ctx,
        store,
        tenant,
        lambda who: f"Missed call from {who}. We've texted them back and are handling it.",
        caller=caller,
        conversation_id=conversation_id,
        now=now,
        open_for=timedelta(hours=settings.staff_alert_hours),
    )
