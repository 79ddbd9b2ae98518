"""What more than one flow does: open or get the caller's conversation, queue an outbound message, tell the owner,
hand the conversation to a human; and the one ``subscriptions`` every flow declares its handlers on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from domain.conversations.ports import TenantDirectory, TenantProfile
from domain.conversations.store import ConversationStore
from domain.events.catalog import ConversationOpened, HumanTakeoverRequested, OutboundMessageRequested
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("conversations")

# Automated senders go quiet while a human holds the conversation; a human's own reply does not.
AUTOMATED_PURPOSES = frozenset({"first_response", "ai_reply", "follow_up"})


def open_or_get_conversation(
    ctx: HandlerContext, store: ConversationStore, *, caller: str, trigger: str
) -> tuple[uuid.UUID, str]:
    """The caller's live conversation, opened (and announced) if there is none."""
    assert ctx.tenant_id is not None
    conversation = store.open_or_get(tenant_id=ctx.tenant_id, caller=caller)
    if conversation.opened:
        ctx.emit(ConversationOpened(conversation_id=conversation.id, caller=caller, trigger=trigger))  # type: ignore[arg-type]
    return conversation.id, conversation.state


def queue_outbound(
    ctx: HandlerContext,
    store: ConversationStore,
    *,
    conversation_id: uuid.UUID | None,
    to_number: str,
    from_number: str,
    body: str,
    purpose: str,
    reference_at: datetime | None = None,
) -> uuid.UUID:
    """Write the outbound message (``pending``) and ask for it to be sent; the sender runs the preflight."""
    assert ctx.tenant_id is not None
    message_id = store.insert_outbound(
        tenant_id=ctx.tenant_id,
        conversation_id=conversation_id,
        to_number=to_number,
        from_number=from_number,
        body=body,
        purpose=purpose,
        reference_at=reference_at,
    )
    ctx.emit(
        OutboundMessageRequested(
            message_id=message_id,
            conversation_id=conversation_id,
            to_number=to_number,
            from_number=from_number,
            body=body,
            purpose=purpose,  # type: ignore[arg-type]
        )
    )
    return message_id


def caller_label(store: ConversationStore, *, tenant_id: uuid.UUID, caller: str) -> str:
    """The caller as staff know them: "Maria Lopez (+13105559900)" when they have a name on record, else the number."""
    name = store.caller_name(tenant_id=tenant_id, caller=caller)
    return caller if name is None else f"{name} ({caller})"


def alert_staff(
    ctx: HandlerContext,
    store: ConversationStore,
    tenant: TenantProfile,
    body: Callable[[str], str],
    *,
    caller: str,
    conversation_id: uuid.UUID,
    now: datetime,
    open_for: timedelta,
) -> str | None:
    """Text every staff number about the conversation, under its alert's code (``K47: …``), so a member can act
    on it by replying (``domain/conversations/flows/staff.py``); the code, or None when there is nobody to tell.
    ``body`` writes the alert about the caller as staff know them (``caller_label``)."""
    numbers = tenant.alert_numbers
    if not numbers:
        return None
    code = store.open_alert(tenant_id=tenant.id, conversation_id=conversation_id, expires=now + open_for)
    about = body(caller_label(store, tenant_id=tenant.id, caller=caller))
    text = f"{code}: {about}\nReply {code} TAKE to take over, HELP for commands."
    for number in numbers:
        queue_outbound(
            ctx,
            store,
            conversation_id=None,
            to_number=number,
            from_number=tenant.number,
            body=text,
            purpose="notification",
        )
    return code


def profile(ctx: HandlerContext, directory: TenantDirectory, now: datetime) -> TenantProfile:
    assert ctx.tenant_id is not None
    tenant = directory.profile(ctx.session, ctx.tenant_id, now)
    if tenant is None:
        raise LookupError(f"tenant {ctx.tenant_id} has no profile")
    return tenant


def take_over_for_caller(
    ctx: HandlerContext,
    store: ConversationStore,
    *,
    conversation_id: uuid.UUID,
    reason: str,
    lease: timedelta,
    now: datetime,
    acknowledgement: uuid.UUID | None = None,
) -> None:
    """The conversation goes to a human; ``acknowledgement`` (queued just before, in the same transaction) is the
    one automated message the sender still lets through, so the caller hears why the AI went quiet."""
    assert ctx.tenant_id is not None
    expires = now + lease
    store.hand_to_human(
        tenant_id=ctx.tenant_id, conversation_id=conversation_id, expires=expires, acknowledgement=acknowledgement
    )
    ctx.emit(
        HumanTakeoverRequested(
            conversation_id=conversation_id,
            requested_by="caller",
            user_id=None,
            reason=reason,
            lease_expires_at=expires,
        )
    )
