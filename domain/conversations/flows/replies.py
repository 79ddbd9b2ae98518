"""Caller text → reply: record it once, route opt-out words, HELP and unclear stops, else let the engine answer.

What this flow writes itself (an opt-out confirmation, the HELP answer, the acknowledgement of an unclear stop) is in
the caller's language, read as the engine reads it (:mod:`domain.conversations.engine.language`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from db.metrics import AI_TURNS
from db.settings import Settings
from domain.conversations.engine.language import Language, conversation_language, remembered_language
from domain.conversations.engine.ports import ConversationEngine, Turn
from domain.conversations.flows.appointment_replies import answer_about_appointment
from domain.conversations.flows.common import (
    alert_staff,
    open_or_get_conversation,
    profile,
    queue_outbound,
    subscriptions,
    take_over_for_caller,
)
from domain.conversations.flows.staff import answer_staff
from domain.conversations.messaging import fit_to_segments
from domain.conversations.ports import AppointmentReplies, InboundKeywords, TenantDirectory, ToolsFactory
from domain.conversations.store import StoreFactory
from domain.events.catalog import MessageReceived
from domain.events.handling import HandlerContext

# Twilio confirms its own opt-out keywords (STOP, CANCEL, ...); any other opt-out (a phrase, a Spanish word such as
# ALTO) would go unanswered, so this one confirmation is ours, sent as a compliance message inside the gate's window.
OPT_OUT_CONFIRMATION: dict[Language, str] = {
    "en": "{business}: you're unsubscribed and won't get more texts from us. Reply START to resubscribe.",
    "es": "{business}: ya no le vamos a enviar mensajes. Para volver a recibirlos, responda START.",
}
UNCLEAR_STOP_ACK: dict[Language, str] = {
    "en": "Understood. We won't text you again unless you write to us. - {business}",
    "es": "Entendido. No le volveremos a escribir a menos que usted nos escriba. - {business}",
}
# A Spanish HELP (AYUDA) gets a Spanish line before the tenant's own help text, whose details carriers reviewed.
HELP_LEAD_ES = (
    "{business}: si necesita ayuda, nos puede llamar a este teléfono. Para no recibir mensajes, responda STOP."
)


def _language(body: str, state: dict[str, object] | None = None) -> Language:
    return conversation_language(body, remembered_language(state or {}))


@subscriptions.on(MessageReceived)
def reply_to_caller(
    event: MessageReceived,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    keywords: InboundKeywords,
    engine: ConversationEngine,
    tools: ToolsFactory,
    conversation_store: StoreFactory,
    appointment_replies: AppointmentReplies,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    store = conversation_store(ctx.session)
    now = clock()
    inserted = store.insert_inbound(
        tenant_id=ctx.tenant_id,
        from_number=event.from_number,
        to_number=event.to_number,
        body=event.body,
        message_sid=event.message_sid,
        received_at=event.received_at,
    )
    if inserted is None:
        return  # the same inbound message again: one reply only
    kind = keywords.classify(event.body)
    if kind == "opt_out":
        # Compliance records it; the conversation is blocked when OptOutRecorded arrives. Twilio confirms its own
        # keywords; any other opt-out gets our one confirmation, unless the caller was already opted out.
        if keywords.carrier_confirms(event.body) or keywords.is_opted_out(
            ctx.session, tenant_id=ctx.tenant_id, phone=event.from_number, at=event.received_at
        ):
            return
        tenant = profile(ctx, directory, now)
        if tenant.staff_member(event.from_number) is not None:
            return
        queue_outbound(
            ctx,
            store,
            conversation_id=None,
            to_number=event.from_number,
            from_number=tenant.number,
            body=OPT_OUT_CONFIRMATION[_language(event.body)].format(business=tenant.name),
            purpose="compliance",
        )
        return
    # "YES" opts back in only someone who was opted out when it arrived; from anyone else it is an answer for the AI.
    # Someone opted out who sounds like they want us to stop needs no one to ask them.
    if kind in ("opt_in", "unclear_opt_out") and keywords.is_opted_out(
        ctx.session, tenant_id=ctx.tenant_id, phone=event.from_number, at=event.received_at
    ):
        return  # compliance revokes the opt-out on opt_in; a new conversation starts with the caller's next text
    tenant = profile(ctx, directory, now)
    member = tenant.staff_member(event.from_number)
    if member is not None:
        # Staff, never a caller: no conversation, no AI; the text is a command (flows/staff.py).
        answer_staff(event, ctx, store, tenant=tenant, member=member, kind=kind, settings=settings, now=now)
        return
    conversation_id, state = open_or_get_conversation(ctx, store, caller=event.from_number, trigger="inbound_sms")
    store.attach_message(inserted, conversation_id)
    if kind == "help":
        help_text = tenant.help_text
        if _language(event.body, store.engine_state(conversation_id)) == "es":
            help_text = f"{HELP_LEAD_ES.format(business=tenant.name)} {help_text}"
        queue_outbound(
            ctx,
            store,
            conversation_id=conversation_id,
            to_number=event.from_number,
            from_number=tenant.number,
            body=help_text,
            purpose="compliance",
        )
        return
    if kind == "unclear_opt_out":
        # It may be a revocation of consent, so the AI must not answer it and a person must decide; the task stays
        # open after the takeover lease lapses, so the question is never dropped.
        store.ask_opt_out_review(
            tenant_id=ctx.tenant_id,
            conversation_id=conversation_id,
            phone=event.from_number,
            note=f'The caller may be asking us to stop texting: "{event.body[:120]}". Decide before anyone replies.',
        )
    if state == "human":
        return  # a person has it: the AI stays silent
    lease = timedelta(minutes=settings.human_lease_minutes)
    alert_for = timedelta(hours=settings.staff_alert_hours)
    if kind == "unclear_opt_out":
        # One short acknowledgement, then silence: the takeover names it as the last automated message.
        ack = queue_outbound(
            ctx,
            store,
            conversation_id=conversation_id,
            to_number=event.from_number,
            from_number=tenant.number,
            body=UNCLEAR_STOP_ACK[_language(event.body, store.engine_state(conversation_id))].format(
                business=tenant.name
            ),
            purpose="ai_reply",
        )
        take_over_for_caller(
            ctx,
            store,
            conversation_id=conversation_id,
            reason="caller asked us to stop",
            lease=lease,
            now=now,
            acknowledgement=ack,
        )
        ctx.after_commit(AI_TURNS.labels(engine="builtin", outcome="handoff").inc)
        alert_staff(
            ctx,
            store,
            tenant,
            lambda who: f"{who} asked us to stop texting. Please review the conversation.",
            caller=event.from_number,
            conversation_id=conversation_id,
            now=now,
            open_for=alert_for,
        )
        return
    if kind in ("none", "opt_in") and answer_about_appointment(
        ctx,
        store,
        tenant=tenant,
        conversation_id=conversation_id,
        caller=event.from_number,
        body=event.body,
        replies=appointment_replies,
        now=now,
    ):
        return  # a reply to a confirmation or reminder, answered (confirm, reschedule, cancel)
    result = engine.respond(
        Turn(
            text=event.body,
            now=now,
            timezone=tenant.timezone,
            business_name=tenant.name,
            state=store.engine_state(conversation_id),
            caller=event.from_number,
            spanish=tenant.spanish_replies,
        ),
        tools(
            ctx.session,
            tenant_id=ctx.tenant_id,
            caller=event.from_number,
            conversation_id=conversation_id,
            timezone=tenant.timezone,
            now=now,
            events=ctx,
        ),
    )
    store.save_engine_state(conversation_id, result.state)
    outcome = "guard_blocked" if result.guard_blocked else "fallback" if result.fallback_reason else "replied"
    ctx.after_commit(AI_TURNS.labels(engine=result.engine, outcome="handoff" if result.handoff else outcome).inc)
    reply_id = None
    if result.reply:
        reply_id = queue_outbound(
            ctx,
            store,
            conversation_id=conversation_id,
            to_number=event.from_number,
            from_number=tenant.number,
            body=fit_to_segments(result.reply, settings.reply_segment_budget),
            purpose="ai_reply",
        )
    if result.handoff:
        # The reply announcing the handoff is the last automated message: the takeover lets that one through only.
        take_over_for_caller(
            ctx,
            store,
            conversation_id=conversation_id,
            reason=result.handoff_reason or "handoff",
            lease=lease,
            now=now,
            acknowledgement=reply_id,
        )
        wants = (
            "writes in Spanish and the AI's Spanish is off: please answer them."
            if result.handoff_reason == "language"
            else "would like to talk to a person."
        )
        alert_staff(
            ctx,
            store,
            tenant,
            lambda who: f"{who} {wants}",
            caller=event.from_number,
            conversation_id=conversation_id,
            now=now,
            open_for=alert_for,
        )
    elif result.urgent:
        alert_staff(
            ctx,
            store,
            tenant,
            lambda who: f"Urgent: {who} says: {event.body[:100]}",
            caller=event.from_number,
            conversation_id=conversation_id,
            now=now,
            open_for=alert_for,
        )
