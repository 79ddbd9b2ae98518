"""A caller's reply to a confirmation or reminder: confirm, reschedule (real open slots, a hold, then the move, which
frees the old slot in the same transaction), or cancel (asked once, then the slot is freed). Anything else clears
the exchange and goes to the normal engine.

The conversation's ``appointment_context`` says which appointment the next reply is about and where the exchange
is (``confirmation`` / ``reminded`` → ``cancel_asked`` | ``offered`` → ``held``); its ``outcome`` (confirmed,
rescheduled, cancelled, kept) is what the staff inbox shows beside the conversation.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from domain.conversations.flows.common import queue_outbound
from domain.conversations.ports import AppointmentReplies, OfferedSlot, TenantProfile
from domain.conversations.store import ConversationStore
from domain.events.handling import HandlerContext

CONFIRM = frozenset({"C", "CONFIRM", "CONFIRMED", "YES", "Y", "OK", "OKAY", "SI", "SÍ"})
RESCHEDULE = frozenset({"R", "RESCHEDULE", "CHANGE", "MOVE", "NEW TIME"})
# Not the word CANCEL: it is one of the carriers' opt-out keywords (with STOP, END, QUIT…), read as an opt-out first.
CANCEL = frozenset({"X", "CANCEL IT", "CANCEL APPOINTMENT", "CANCEL MY APPOINTMENT"})
YES = frozenset({"YES", "Y", "YEP", "SURE", "OK", "OKAY", "CONFIRM", "SI", "SÍ"})
NO = frozenset({"NO", "N", "NOPE", "KEEP", "KEEP IT"})
_WORDS = re.compile(r"[^\w\s]")


def normalised(body: str) -> str:
    return " ".join(_WORDS.sub(" ", body.upper()).split())


def answer_about_appointment(
    ctx: HandlerContext,
    store: ConversationStore,
    *,
    tenant: TenantProfile,
    conversation_id: uuid.UUID,
    caller: str,
    body: str,
    replies: AppointmentReplies,
    now: datetime,
) -> bool:
    """Answer the reply if it is about the appointment in context; False to hand it to the engine."""
    assert ctx.tenant_id is not None
    context = store.appointment_context(conversation_id)
    if not context or context.get("stage") in (None, "done"):
        return False
    appointment_id = uuid.UUID(str(context["appointment_id"]))
    brief = replies.brief(ctx.session, tenant_id=ctx.tenant_id, appointment_id=appointment_id, now=now)
    if brief is None or not brief.booked:
        store.set_appointment_context(conversation_id, None)
        return False
    words, stage = normalised(body), context["stage"]

    def say(text: str) -> None:
        queue_outbound(
            ctx,
            store,
            conversation_id=conversation_id,
            to_number=caller,
            from_number=tenant.number,
            body=text,
            purpose="ai_reply",
        )

    def done(outcome: str, **extra: Any) -> None:
        store.set_appointment_context(
            conversation_id, {**context, "stage": "done", "outcome": outcome, "at": now.isoformat(), **extra}
        )

    tenant_id, sink = ctx.tenant_id, ctx
    if stage in ("confirmation", "reminded"):
        if words in CONFIRM:
            replies.confirm(ctx.session, tenant_id=tenant_id, appointment_id=appointment_id, now=now, events=sink)
            done("confirmed")
            say(f"Thanks, you're confirmed for {brief.when}. See you then! - {tenant.name}")
            return True
        if words in CANCEL:
            store.set_appointment_context(conversation_id, {**context, "stage": "cancel_asked"})
            say(f"Cancel your {brief.service} on {brief.when}? Reply YES to cancel or NO to keep it.")
            return True
        if words in RESCHEDULE:
            return _offer(ctx, store, context, conversation_id, appointment_id, replies, now, say)
        return _not_about_it(store, conversation_id)
    if stage == "cancel_asked":
        if words in YES or words in CANCEL:
            replies.cancel(ctx.session, tenant_id=tenant_id, appointment_id=appointment_id, now=now, events=sink)
            done("cancelled")
            say(f"Done: your {brief.service} on {brief.when} is cancelled. Text us any time to book again.")
            return True
        if words in NO:
            done("kept")
            say(f"No problem, you're still booked for {brief.when}.")
            return True
        return _not_about_it(store, conversation_id)
    if stage == "offered":
        offered = context.get("slots") or []
        if words.isdigit() and 1 <= int(words) <= len(offered):
            chosen = offered[int(words) - 1]
            slot = OfferedSlot(
                uuid.UUID(chosen["resource_id"]),
                datetime.fromisoformat(chosen["starts_at"]),
                datetime.fromisoformat(chosen["ends_at"]),
                chosen["when"],
            )
            hold_id = replies.hold(
                ctx.session,
                tenant_id=tenant_id,
                appointment_id=appointment_id,
                slot=slot,
                caller=caller,
                conversation_id=conversation_id,
                now=now,
                events=sink,
            )
            if hold_id is None:
                say("Sorry, that time was just taken.")
                return _offer(ctx, store, context, conversation_id, appointment_id, replies, now, say)
            store.set_appointment_context(
                conversation_id, {**context, "stage": "held", "hold_id": str(hold_id), "when": slot.when}
            )
            say(
                f"I'm holding {slot.when} for you. Reply YES to move your {brief.service} there,"
                f" or NO to keep {brief.when}."
            )
            return True
        if words in NO:
            done("kept")
            say(f"No problem, you're still booked for {brief.when}.")
            return True
        return _not_about_it(store, conversation_id)
    if stage == "held":
        hold_id = uuid.UUID(str(context["hold_id"]))
        if words in YES:
            if replies.move(
                ctx.session, tenant_id=tenant_id, appointment_id=appointment_id, hold_id=hold_id, now=now, events=sink
            ):
                done("rescheduled", moved_to=context.get("when"))
                # The confirmation of the new time follows from AppointmentRescheduled (flows/appointments.py).
                return True
            say("Sorry, that time is no longer free.")
            return _offer(ctx, store, context, conversation_id, appointment_id, replies, now, say)
        if words in NO:
            replies.release(ctx.session, tenant_id=tenant_id, hold_id=hold_id, now=now, events=sink)
            done("kept")
            say(f"No problem, you're still booked for {brief.when}.")
            return True
        replies.release(ctx.session, tenant_id=tenant_id, hold_id=hold_id, now=now, events=sink)
        return _not_about_it(store, conversation_id)
    return _not_about_it(store, conversation_id)


def _offer(
    ctx: HandlerContext,
    store: ConversationStore,
    context: dict[str, Any],
    conversation_id: uuid.UUID,
    appointment_id: uuid.UUID,
    replies: AppointmentReplies,
    now: datetime,
    say: Any,
) -> bool:
    assert ctx.tenant_id is not None
    slots = replies.open_slots(ctx.session, tenant_id=ctx.tenant_id, appointment_id=appointment_id, now=now)
    if not slots:
        store.set_appointment_context(conversation_id, {**context, "stage": "reminded"})
        say("I couldn't find another open time in the next two weeks. Reply C to keep your time or X to cancel.")
        return True
    listed = " ".join(f"{index}) {slot.when}" for index, slot in enumerate(slots, start=1))
    store.set_appointment_context(
        conversation_id,
        {
            **context,
            "stage": "offered",
            "slots": [
                {
                    "resource_id": str(slot.resource_id),
                    "starts_at": slot.starts_at.isoformat(),
                    "ends_at": slot.ends_at.isoformat(),
                    "when": slot.when,
                }
                for slot in slots
            ],
        },
    )
    say(f"These times are open: {listed}. Reply with the number, or NO to keep your time.")
    return True


def _not_about_it(store: ConversationStore, conversation_id: uuid.UUID) -> bool:
    # Anything else is a conversation again: the engine answers, and the appointment exchange is over.
    store.set_appointment_context(conversation_id, None)
    return False
