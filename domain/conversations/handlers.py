"""The conversation flows: missed call → first SMS, caller text → AI reply, outbound send, status, opt-out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.metrics import AI_TURNS, FIRST_SMS_LATENCY, MESSAGES, PROVIDER_ERRORS
from db.settings import Settings
from domain.conversations.engine.ports import ConversationEngine, Turn
from domain.conversations.messaging import (
    PROVIDER_STATUS,
    STATUS_RANK,
    count_segments,
    fit_to_segments,
    render_first_message,
)
from domain.conversations.ports import (
    Appointments,
    InboundKeywords,
    SendFailed,
    SendGate,
    SmsSender,
    TenantDirectory,
    TenantProfile,
    ToolsFactory,
)
from domain.events.catalog import (
    CallMissed,
    ConversationBlocked,
    ConversationOpened,
    HumanTakeoverRequested,
    MessageBlocked,
    MessageQueued,
    MessageReceived,
    MessageStatusChanged,
    MessageStatusReported,
    OptOutRecorded,
    OutboundMessageRequested,
)
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("conversations")

# Automated senders go quiet while a human holds the conversation; a human's own reply does not.
AUTOMATED_PURPOSES = frozenset({"first_response", "ai_reply"})


class MessageNotYetKnown(Exception):
    """A status callback raced ahead of the commit that recorded the provider's SID; retried with backoff."""


# --- shared steps ----------------------------------------------------------------------------------------------


def open_or_get_conversation(ctx: HandlerContext, *, caller: str, trigger: str) -> tuple[uuid.UUID, str]:
    """The caller's live conversation, opened if there is none. The partial unique index decides races."""
    assert ctx.tenant_id is not None
    new_id = uuid.uuid4()
    opened = ctx.session.execute(
        text(
            "INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :tenant, :caller, 'open')"
            " ON CONFLICT (tenant_id, caller) WHERE state IN ('open', 'human') DO NOTHING RETURNING id"
        ),
        {"id": new_id, "tenant": ctx.tenant_id, "caller": caller},
    ).first()
    if opened is not None:
        ctx.emit(ConversationOpened(conversation_id=new_id, caller=caller, trigger=trigger))  # type: ignore[arg-type]
        return new_id, "open"
    row = ctx.session.execute(
        text(
            "SELECT id, state FROM conv_conversations"
            " WHERE tenant_id = :tenant AND caller = :caller AND state IN ('open', 'human') FOR UPDATE"
        ),
        {"tenant": ctx.tenant_id, "caller": caller},
    ).one()
    return row.id, row.state


def queue_outbound(
    ctx: HandlerContext,
    *,
    conversation_id: uuid.UUID | None,
    to_number: str,
    from_number: str,
    body: str,
    purpose: str,
    reference_at: datetime | None = None,
) -> uuid.UUID:
    """Write the outbound message (``pending``) and ask for it to be sent; the sender runs the preflight."""
    message_id = uuid.uuid4()
    segments = count_segments(body)
    ctx.session.execute(
        text(
            "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number, to_number,"
            " body, status, segments, encoding, reference_at)"
            " VALUES (:id, :tenant, :conversation, 'out', :purpose, :from_number, :to_number, :body, 'pending',"
            " :segments, :encoding, :reference_at)"
        ),
        {
            "id": message_id,
            "tenant": ctx.tenant_id,
            "conversation": conversation_id,
            "purpose": purpose,
            "from_number": from_number,
            "to_number": to_number,
            "body": body,
            "segments": segments.count,
            "encoding": segments.encoding,
            "reference_at": reference_at,
        },
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


def notify_owner(ctx: HandlerContext, tenant: TenantProfile, body: str) -> None:
    if tenant.owner_mobile:
        queue_outbound(
            ctx,
            conversation_id=None,
            to_number=tenant.owner_mobile,
            from_number=tenant.number,
            body=body,
            purpose="notification",
        )


def _profile(ctx: HandlerContext, directory: TenantDirectory, now: datetime) -> TenantProfile:
    assert ctx.tenant_id is not None
    tenant = directory.profile(ctx.session, ctx.tenant_id, now)
    if tenant is None:
        raise LookupError(f"tenant {ctx.tenant_id} has no profile")
    return tenant


def take_over_for_caller(
    ctx: HandlerContext, *, conversation_id: uuid.UUID, reason: str, lease: timedelta, now: datetime
) -> None:
    expires = now + lease
    ctx.session.execute(
        text(
            "UPDATE conv_conversations SET state = 'human', human_lease_expires_at = :expires, updated_at = now()"
            " WHERE id = :id AND tenant_id = :tenant AND state = 'open'"
        ),
        {"expires": expires, "id": conversation_id, "tenant": ctx.tenant_id},
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


def ask_for_opt_out_review(ctx: HandlerContext, *, conversation_id: uuid.UUID, caller: str, body: str) -> None:
    """One open review per conversation, however often the caller says it. The caller's conversation row is held
    (inserted or locked FOR UPDATE by ``open_or_get_conversation``), so two of these cannot interleave."""
    ctx.session.execute(
        text(
            "INSERT INTO conv_operator_tasks (id, tenant_id, kind, conversation_id, subject_ref, note)"
            " SELECT :id, :tenant, 'review_opt_out', :conversation, :phone, :note WHERE NOT EXISTS ("
            "SELECT 1 FROM conv_operator_tasks WHERE tenant_id = :tenant AND conversation_id = :conversation"
            " AND kind = 'review_opt_out' AND status = 'open')"
        ),
        {
            "id": uuid.uuid4(),
            "tenant": ctx.tenant_id,
            "conversation": conversation_id,
            "phone": caller,
            "note": f'The caller may be asking us to stop texting: "{body[:120]}". Decide before anyone replies.',
        },
    )


# --- missed call → first SMS -----------------------------------------------------------------------------------


@subscriptions.on(CallMissed)
def greet_missed_caller(
    event: CallMissed,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    tenant = _profile(ctx, directory, now)
    conversation_id, state = open_or_get_conversation(ctx, caller=event.caller, trigger="missed_call")
    window = timedelta(minutes=settings.first_sms_window_minutes)
    # One first SMS per caller per tenant per window, however many calls or duplicate webhooks: one atomic upsert.
    claimed = ctx.session.execute(
        text(
            "INSERT INTO conv_first_response_claims (id, tenant_id, caller, claimed_at, call_sid)"
            " VALUES (:id, :tenant, :caller, :now, :call_sid)"
            " ON CONFLICT (tenant_id, caller) DO UPDATE SET claimed_at = EXCLUDED.claimed_at,"
            " call_sid = EXCLUDED.call_sid"
            " WHERE conv_first_response_claims.claimed_at <= :window_start RETURNING id"
        ),
        {
            "id": uuid.uuid4(),
            "tenant": ctx.tenant_id,
            "caller": event.caller,
            "now": now,
            "call_sid": event.call_sid,
            "window_start": now - window,
        },
    ).first()
    if claimed is None or state == "human":
        return
    template = tenant.first_message_template if tenant.open_now else tenant.after_hours_template
    queue_outbound(
        ctx,
        conversation_id=conversation_id,
        to_number=event.caller,
        from_number=tenant.number,
        body=render_first_message(template, business=tenant.name),
        purpose="first_response",
        reference_at=event.missed_at,
    )
    notify_owner(ctx, tenant, f"Missed call from {event.caller}. We've texted them back and are handling it.")


# --- the sender ------------------------------------------------------------------------------------------------


@subscriptions.on(OutboundMessageRequested)
def send_message(
    event: OutboundMessageRequested,
    ctx: HandlerContext,
    *,
    gate: SendGate,
    sms: SmsSender,
    keywords: InboundKeywords,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
) -> None:
    session = ctx.session
    message = session.execute(
        text(
            "SELECT id, conversation_id, status, purpose, to_number, from_number, body, reference_at,"
            " send_attempted_at FROM conv_messages WHERE id = :id AND tenant_id = :tenant"
        ),
        {"id": event.message_id, "tenant": ctx.tenant_id},
    ).one()
    if message.status != "pending":
        return
    state = None
    if event.conversation_id is not None:
        # FOR SHARE: a takeover committing now waits for this send, or this send sees the takeover.
        state = session.execute(
            text("SELECT state FROM conv_conversations WHERE id = :id FOR SHARE"), {"id": event.conversation_id}
        ).scalar_one()
    if state == "human" and message.purpose in AUTOMATED_PURPOSES:
        _block(ctx, message.id, event.conversation_id, {"allowed": False, "reason": "human_takeover"})
        return
    assert ctx.tenant_id is not None
    decision = gate.check(
        session, tenant_id=ctx.tenant_id, to_number=message.to_number, conversation_state=state, purpose=message.purpose
    )
    if not decision.allowed:
        _block(ctx, message.id, event.conversation_id, decision.as_record())
        return
    earlier = _record_intent(sessions, message.id, clock())
    if earlier is not None:
        # A previous attempt may have reached the provider and died before committing: look before sending again.
        found = sms.find_sent(
            to=message.to_number, from_=message.from_number, body=message.body, since=earlier - timedelta(seconds=5)
        )
        if found is not None:
            _queued(ctx, message, found.sid, decision.as_record(), clock(), segments=None)
            return
    try:
        accepted = sms.send(
            decision, tenant_id=ctx.tenant_id, to=message.to_number, from_=message.from_number, body=message.body
        )
    except SendFailed as error:
        # Counted per attempt, not after commit: each is a call the provider refused, whatever the delivery does next.
        PROVIDER_ERRORS.labels(provider="twilio", code=str(error.code)).inc()
        if error.retryable:
            raise
        _failed(ctx, message.id, error.code, decision.as_record())
        if error.opted_out:
            keywords.record_provider_opt_out(
                session, tenant_id=ctx.tenant_id, phone=message.to_number, message_ref=str(message.id), events=ctx
            )
        return
    _queued(ctx, message, accepted.sid, decision.as_record(), clock(), segments=accepted.num_segments)


def _record_intent(sessions: sessionmaker[Session], message_id: uuid.UUID, now: datetime) -> datetime | None:
    """Commit "about to call the provider" before calling it; return the earlier intent's time if there was one."""
    with sessions() as intent, intent.begin():
        previous = intent.execute(
            text("SELECT send_attempted_at FROM conv_messages WHERE id = :id FOR UPDATE"), {"id": message_id}
        ).scalar_one()
        if previous is None:
            intent.execute(
                text("UPDATE conv_messages SET send_attempted_at = :now WHERE id = :id"), {"now": now, "id": message_id}
            )
        return previous


def _block(
    ctx: HandlerContext, message_id: uuid.UUID, conversation_id: uuid.UUID | None, record: dict[str, Any]
) -> None:
    ctx.session.execute(
        text(
            "UPDATE conv_messages SET status = 'blocked', preflight = CAST(:record AS jsonb), updated_at = now()"
            " WHERE id = :id"
        ),
        {"record": _json(record), "id": message_id},
    )
    ctx.after_commit(MESSAGES.labels(status="blocked").inc)
    ctx.emit(MessageBlocked(message_id=message_id, conversation_id=conversation_id, reason=str(record.get("reason"))))


def _failed(ctx: HandlerContext, message_id: uuid.UUID, code: int | None, record: dict[str, Any]) -> None:
    ctx.session.execute(
        text(
            "UPDATE conv_messages SET status = 'failed', error_code = :code, preflight = CAST(:record AS jsonb),"
            " updated_at = now() WHERE id = :id"
        ),
        {"code": code, "record": _json(record), "id": message_id},
    )
    ctx.after_commit(MESSAGES.labels(status="failed").inc)


def _queued(
    ctx: HandlerContext, message: Any, sid: str, record: dict[str, Any], now: datetime, *, segments: int | None
) -> None:
    latency_ms = None
    if message.purpose == "first_response" and message.reference_at is not None:
        latency_ms = max(0, int((now - message.reference_at).total_seconds() * 1000))
    ctx.session.execute(
        text(
            "UPDATE conv_messages SET status = 'queued', provider_ref = :sid, queued_at = :now,"
            " first_response_latency_ms = :latency, preflight = CAST(:record AS jsonb),"
            " segments = COALESCE(:segments, segments), updated_at = now() WHERE id = :id"
        ),
        {
            "sid": sid,
            "now": now,
            "latency": latency_ms,
            "record": _json(record),
            "segments": segments,
            "id": message.id,
        },
    )
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


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str)


# --- delivery status -------------------------------------------------------------------------------------------


@subscriptions.on(MessageStatusReported)
def apply_delivery_status(
    event: MessageStatusReported,
    ctx: HandlerContext,
    *,
    keywords: InboundKeywords,
    settings: Settings,
) -> None:
    status = PROVIDER_STATUS[event.status]
    moved = ctx.session.execute(
        text(
            "WITH current AS (SELECT id, status FROM conv_messages WHERE provider_ref = :sid AND tenant_id = :tenant"
            " FOR UPDATE)"
            " UPDATE conv_messages m SET status = :status, error_code = COALESCE(:code, m.error_code),"
            " updated_at = now() FROM current WHERE m.id = current.id"
            " AND (CASE current.status WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END)"
            " < :rank"
            " RETURNING m.id, current.status AS previous, m.to_number"
        ),
        {
            "sid": event.message_sid,
            "tenant": ctx.tenant_id,
            "status": status,
            "code": event.error_code,
            "rank": STATUS_RANK[status],
        },
    ).first()
    if moved is None:
        known = ctx.session.execute(
            text("SELECT 1 FROM conv_messages WHERE provider_ref = :sid AND tenant_id = :tenant"),
            {"sid": event.message_sid, "tenant": ctx.tenant_id},
        ).first()
        if known is None and ctx.attempt < settings.delivery_max_attempts:
            raise MessageNotYetKnown(event.message_sid)
        # On the last attempt an unknown SID is dropped, not dead-lettered: the provider poll repairs its status.
        return  # a stale, duplicated or out-of-order callback: the message never moves backwards
    ctx.after_commit(MESSAGES.labels(status=status).inc)
    ctx.emit(
        MessageStatusChanged(
            message_id=moved.id,
            provider_ref=event.message_sid,
            previous_status=moved.previous,
            status=status,  # type: ignore[arg-type]
            error_code=event.error_code,
        )
    )
    if event.error_code is not None:
        ctx.after_commit(PROVIDER_ERRORS.labels(provider="twilio", code=str(event.error_code)).inc)
    if event.error_code == 21610:
        assert ctx.tenant_id is not None
        keywords.record_provider_opt_out(
            ctx.session, tenant_id=ctx.tenant_id, phone=moved.to_number, message_ref=event.message_sid, events=ctx
        )


# --- caller text → AI reply ------------------------------------------------------------------------------------


@subscriptions.on(MessageReceived)
def reply_to_caller(
    event: MessageReceived,
    ctx: HandlerContext,
    *,
    directory: TenantDirectory,
    keywords: InboundKeywords,
    engine: ConversationEngine,
    tools: ToolsFactory,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    assert ctx.tenant_id is not None
    now = clock()
    inserted = ctx.session.execute(
        text(
            "INSERT INTO conv_messages (id, tenant_id, direction, from_number, to_number, body, status, provider_ref,"
            " segments, encoding) VALUES (:id, :tenant, 'in', :from_number, :to_number, :body, 'received', :sid,"
            " :segments, :encoding) ON CONFLICT (provider_ref) DO NOTHING RETURNING id"
        ),
        {
            "id": uuid.uuid4(),
            "tenant": ctx.tenant_id,
            "from_number": event.from_number,
            "to_number": event.to_number,
            "body": event.body,
            "sid": event.message_sid,
            "segments": count_segments(event.body).count,
            "encoding": count_segments(event.body).encoding,
        },
    ).first()
    if inserted is None:
        return  # the same inbound message again: one reply only
    kind = keywords.classify(event.body)
    if kind == "opt_out":
        return  # compliance records it; the conversation is blocked when OptOutRecorded arrives
    # "YES" opts back in only someone who was opted out when it arrived; from anyone else it is an answer for the AI.
    # Someone opted out who sounds like they want us to stop needs no one to ask them.
    if kind in ("opt_in", "unclear_opt_out") and keywords.is_opted_out(
        ctx.session, tenant_id=ctx.tenant_id, phone=event.from_number, at=event.received_at
    ):
        return  # compliance revokes the opt-out on opt_in; a new conversation starts with the caller's next text
    tenant = _profile(ctx, directory, now)
    conversation_id, state = open_or_get_conversation(ctx, caller=event.from_number, trigger="inbound_sms")
    ctx.session.execute(
        text("UPDATE conv_messages SET conversation_id = :c WHERE id = :id"), {"c": conversation_id, "id": inserted.id}
    )
    if kind == "help":
        queue_outbound(
            ctx,
            conversation_id=conversation_id,
            to_number=event.from_number,
            from_number=tenant.number,
            body=tenant.help_text,
            purpose="compliance",
        )
        return
    if kind == "unclear_opt_out":
        # It may be a revocation of consent, so the AI must not answer it and a person must decide; the task stays
        # open after the takeover lease lapses, so the question is never dropped.
        ask_for_opt_out_review(ctx, conversation_id=conversation_id, caller=event.from_number, body=event.body)
    if state == "human":
        return  # a person has it: the AI stays silent
    lease = timedelta(minutes=settings.human_lease_minutes)
    if kind == "unclear_opt_out":
        take_over_for_caller(
            ctx, conversation_id=conversation_id, reason="caller asked us to stop", lease=lease, now=now
        )
        ctx.after_commit(AI_TURNS.labels(engine="builtin", outcome="handoff").inc)
        notify_owner(ctx, tenant, f"{event.from_number} asked us to stop texting. Please review the conversation.")
        return
    engine_state = ctx.session.execute(
        text("SELECT engine_state FROM conv_conversations WHERE id = :id"), {"id": conversation_id}
    ).scalar_one()
    result = engine.respond(
        Turn(
            text=event.body,
            now=now,
            timezone=tenant.timezone,
            business_name=tenant.name,
            state=engine_state or {},
            caller=event.from_number,
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
    ctx.session.execute(
        text("UPDATE conv_conversations SET engine_state = CAST(:s AS jsonb), updated_at = now() WHERE id = :id"),
        {"s": _json(result.state), "id": conversation_id},
    )
    outcome = "guard_blocked" if result.guard_blocked else "fallback" if result.fallback_reason else "replied"
    ctx.after_commit(AI_TURNS.labels(engine=result.engine, outcome="handoff" if result.handoff else outcome).inc)
    if result.reply:
        queue_outbound(
            ctx,
            conversation_id=conversation_id,
            to_number=event.from_number,
            from_number=tenant.number,
            body=fit_to_segments(result.reply, settings.reply_segment_budget),
            purpose="ai_reply",
        )
    if result.handoff:
        take_over_for_caller(
            ctx, conversation_id=conversation_id, reason=result.handoff_reason or "handoff", lease=lease, now=now
        )
        notify_owner(ctx, tenant, f"{event.from_number} would like to talk to a person. Please take over.")
    elif result.urgent:
        notify_owner(ctx, tenant, f"Urgent: {event.from_number} says: {event.body[:100]}")


# --- opt-out ---------------------------------------------------------------------------------------------------


@subscriptions.on(OptOutRecorded)
def block_opted_out_caller(
    event: OptOutRecorded, ctx: HandlerContext, *, appointments: Appointments, clock: Callable[[], datetime]
) -> None:
    assert ctx.tenant_id is not None
    blocked = (
        ctx.session.execute(
            text(
                "UPDATE conv_conversations SET state = 'blocked', updated_at = now(), closed_at = now()"
                " WHERE tenant_id = :tenant AND caller = :phone AND state IN ('open', 'human') RETURNING id"
            ),
            {"tenant": ctx.tenant_id, "phone": event.phone},
        )
        .scalars()
        .all()
    )
    for conversation_id in blocked:
        ctx.emit(ConversationBlocked(conversation_id=conversation_id, reason="opt_out"))
    if appointments.has_upcoming(ctx.session, tenant_id=ctx.tenant_id, phone=event.phone, now=clock()):
        # Honour the opt-out, but a person must confirm the booked job some other way.
        ctx.session.execute(
            text(
                "INSERT INTO conv_operator_tasks (id, tenant_id, kind, conversation_id, subject_ref, note)"
                " VALUES (:id, :tenant, 'confirm_appointment', :conversation, :phone, :note)"
            ),
            {
                "id": uuid.uuid4(),
                "tenant": ctx.tenant_id,
                "conversation": blocked[0] if blocked else None,
                "phone": event.phone,
                "note": "Caller opted out of SMS but has an upcoming appointment: confirm it by phone.",
            },
        )
