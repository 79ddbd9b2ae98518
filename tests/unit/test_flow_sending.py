"""The sending flow against the in-memory store: the preflight, a human's hold, crash recovery, provider failures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.conversations.flows.sending import send_message
from domain.conversations.ports import SendFailed, SentEarlier
from domain.events.catalog import MessageBlocked, MessageQueued, OutboundMessageRequested
from tests.support.conversation_store import (
    Decision,
    Gate,
    Keywords,
    MemoryConversationStore,
    NoQuietHours,
    RecordingContext,
    Sms,
)

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)


def queued(
    store: MemoryConversationStore, *, purpose: str = "ai_reply", human: bool = False
) -> OutboundMessageRequested:
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    if human:
        store.hand_to_human(tenant_id=TENANT, conversation_id=conversation.id, expires=NOW + timedelta(minutes=30))
    body = "We can come Friday at 3:00 PM."
    message_id = store.insert_outbound(
        tenant_id=TENANT,
        conversation_id=conversation.id,
        to_number=CALLER,
        from_number="+16175550100",
        body=body,
        purpose=purpose,
        reference_at=NOW - timedelta(milliseconds=1500),
    )
    return OutboundMessageRequested(
        message_id=message_id,
        conversation_id=conversation.id,
        to_number=CALLER,
        from_number="+16175550100",
        body=body,
        purpose=purpose,  # type: ignore[arg-type]
    )


def send(
    store: MemoryConversationStore,
    event: OutboundMessageRequested,
    *,
    sms: Sms | None = None,
    gate: Gate | None = None,
    keywords: Keywords | None = None,
) -> RecordingContext:
    ctx = RecordingContext(TENANT)
    send_message(
        event,
        ctx,
        gate=gate or Gate(),
        sms=sms or Sms(),
        keywords=keywords or Keywords(),
        conversation_store=store.factory(),
        send_window=NoQuietHours(),
        clock=lambda: NOW,
    )
    return ctx


def test_an_allowed_message_is_sent_once_and_marked_queued() -> None:
    store, sms = MemoryConversationStore(), Sms()
    event = queued(store, purpose="first_response")
    ctx = send(store, event, sms=sms)
    row = store.messages[event.message_id]
    assert sms.sent == [(CALLER, event.body)]
    assert row.status == "queued"
    assert row.provider_ref is not None
    assert row.preflight == {"allowed": True, "reason": None}
    assert row.first_response_latency_ms == 1500
    (fact,) = ctx.of(MessageQueued)
    assert (fact.provider_ref, fact.first_response_latency_ms) == (row.provider_ref, 1500)
    # The same request again (a redelivery) sends nothing.
    assert send(store, event, sms=sms).events == []
    assert len(sms.sent) == 1


def test_an_ai_reply_is_blocked_while_a_person_holds_the_conversation_but_their_own_reply_goes_out() -> None:
    store, sms = MemoryConversationStore(), Sms()
    ai = queued(store, human=True)
    ctx = send(store, ai, sms=sms)
    assert store.messages[ai.message_id].status == "blocked"
    assert [blocked.reason for blocked in ctx.of(MessageBlocked)] == ["human_takeover"]
    human = queued(store, purpose="human_reply")
    send(store, human, sms=sms)
    assert store.messages[human.message_id].status == "queued"
    assert sms.sent == [(CALLER, human.body)]


def test_the_gate_refusing_blocks_the_message_with_its_reason() -> None:
    store, sms, gate = MemoryConversationStore(), Sms(), Gate(Decision(allowed=False, reason="opted_out"))
    event = queued(store)
    ctx = send(store, event, sms=sms, gate=gate)
    assert gate.checked == [(CALLER, "open", "ai_reply")]
    assert store.messages[event.message_id].preflight == {"allowed": False, "reason": "opted_out"}
    assert [blocked.reason for blocked in ctx.of(MessageBlocked)] == ["opted_out"]
    assert sms.sent == []


def test_after_a_crash_a_message_the_provider_already_took_is_not_sent_again() -> None:
    store = MemoryConversationStore()
    event = queued(store)
    store.record_send_intent(event.message_id, NOW - timedelta(minutes=1))  # the attempt that died
    sms = Sms(earlier=SentEarlier(sid="SMearlier", status="sent"))
    ctx = send(store, event, sms=sms)
    assert sms.sent == []
    assert store.messages[event.message_id].provider_ref == "SMearlier"
    assert [fact.provider_ref for fact in ctx.of(MessageQueued)] == ["SMearlier"]


def test_a_retryable_provider_failure_propagates_and_leaves_the_message_pending() -> None:
    store = MemoryConversationStore()
    event = queued(store)
    with pytest.raises(SendFailed):
        send(store, event, sms=Sms(failure=SendFailed(20429, "too many requests", retryable=True)))
    assert store.messages[event.message_id].status == "pending"


def test_a_final_opted_out_failure_marks_the_message_failed_and_records_the_opt_out() -> None:
    store, keywords = MemoryConversationStore(), Keywords()
    event = queued(store)
    ctx = send(
        store,
        event,
        sms=Sms(failure=SendFailed(21610, "unsubscribed", retryable=False, opted_out=True)),
        keywords=keywords,
    )
    row = store.messages[event.message_id]
    assert (row.status, row.error_code) == ("failed", 21610)
    assert keywords.provider_opt_outs == [(CALLER, str(event.message_id))]
    assert ctx.events == []


def test_the_takeovers_own_acknowledgement_goes_out_and_no_other_automated_message_does() -> None:
    store, sms = MemoryConversationStore(), Sms()
    earlier = queued(store)  # queued before the takeover, not yet sent
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    ack = queued(store)
    store.hand_to_human(
        tenant_id=TENANT,
        conversation_id=conversation.id,
        expires=NOW + timedelta(minutes=30),
        acknowledgement=ack.message_id,
    )
    later = queued(store, purpose="first_response")
    for event in (earlier, ack, later):
        send(store, event, sms=sms)
    assert [store.messages[e.message_id].status for e in (earlier, ack, later)] == ["blocked", "queued", "blocked"]
    assert len(sms.sent) == 1
