"""Missed call → first SMS: one per caller per tenant per window, unless a person already has the conversation."""

from __future__ import annotations

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
from domain.conversations.ports import TenantDirectory
from domain.conversations.store import StoreFactory
from domain.events.catalog import CallMissed, StaffCallRecognised
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
    template = tenant.first_message_template if tenant.open_now else tenant.after_hours_template
    queue_outbound(
        ctx,
        store,
        conversation_id=conversation_id,
        to_number=event.caller,
        from_number=tenant.number,
        body=render_first_message(template, business=tenant.name),
        purpose="first_response",
        reference_at=event.missed_at,
    )
    alert_staff(
        ctx,
        store,
        tenant,
        f"Missed call from {event.caller}. We've texted them back and are handling it.",
        conversation_id=conversation_id,
        now=now,
        open_for=timedelta(hours=settings.staff_alert_hours),
    )
