"""Opt-out: every live conversation with the caller is blocked; a booked job gets a person to confirm it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.conversations.flows.common import subscriptions
from domain.conversations.ports import Appointments
from domain.conversations.store import StoreFactory
from domain.events.catalog import ConversationBlocked, OptOutRecorded
from domain.events.handling import HandlerContext


@subscriptions.on(OptOutRecorded)
def block_opted_out_caller(
    event: OptOutRecorded,
    ctx: HandlerContext,
    *,
    appointments: Appointments,
    conversation_store: StoreFactory,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    blocked = store.block_caller(tenant_id=ctx.tenant_id, phone=event.phone)
    for conversation_id in blocked:
        ctx.emit(ConversationBlocked(conversation_id=conversation_id, reason="opt_out"))
    if appointments.has_upcoming(ctx.session, tenant_id=ctx.tenant_id, phone=event.phone, now=clock()):
        # Honour the opt-out, but a person must confirm the booked job some other way.
        store.add_task(
            tenant_id=ctx.tenant_id,
            kind="confirm_appointment",
            conversation_id=blocked[0] if blocked else None,
            phone=event.phone,
            note="Caller opted out of SMS but has an upcoming appointment: confirm it by phone.",
        )
