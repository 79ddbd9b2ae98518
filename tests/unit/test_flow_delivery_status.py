"""The delivery-status flow against the in-memory store: forward only, an unknown SID retried, then dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from db.settings import Settings
from domain.conversations.flows.delivery_status import MessageNotYetKnown, apply_delivery_status
from domain.events.catalog import MessageStatusChanged, MessageStatusReported
from tests.support.conversation_store import Keywords, MemoryConversationStore, RecordingContext

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)


def sent_message(store: MemoryConversationStore, sid: str = "SM1") -> uuid.UUID:
    message_id = store.insert_outbound(
        tenant_id=TENANT,
        conversation_id=None,
        to_number=CALLER,
        from_number="+16175550100",
        body="hi",
        purpose="ai_reply",
    )
    store.mark_queued(message_id, sid=sid, now=NOW, latency_ms=None, record={}, segments=1)
    return message_id


def report(
    store: MemoryConversationStore,
    status: str,
    *,
    sid: str = "SM1",
    code: int | None = None,
    attempt: int = 1,
    keywords: Keywords | None = None,
) -> RecordingContext:
    ctx = RecordingContext(TENANT, attempt=attempt)
    event = MessageStatusReported(message_sid=sid, status=status, error_code=code, reported_at=NOW)  # type: ignore[arg-type]
    apply_delivery_status(
        event, ctx, keywords=keywords or Keywords(), conversation_store=store.factory(), settings=Settings()
    )
    return ctx


def test_a_status_moves_the_message_forward_and_says_so() -> None:
    store = MemoryConversationStore()
    message_id = sent_message(store)
    ctx = report(store, "delivered")
    assert store.messages[message_id].status == "delivered"
    (changed,) = ctx.of(MessageStatusChanged)
    assert (changed.message_id, changed.previous_status, changed.status) == (message_id, "queued", "delivered")


def test_a_late_callback_never_moves_a_message_backwards() -> None:
    store = MemoryConversationStore()
    message_id = sent_message(store)
    report(store, "delivered")
    assert report(store, "sent").events == []
    assert report(store, "delivered").events == []  # a duplicate
    assert store.messages[message_id].status == "delivered"


def test_an_unknown_sid_is_retried_until_the_last_attempt_then_dropped() -> None:
    store = MemoryConversationStore()
    with pytest.raises(MessageNotYetKnown):
        report(store, "delivered", sid="SMunknown")
    assert report(store, "delivered", sid="SMunknown", attempt=Settings().delivery_max_attempts).events == []


def test_the_provider_saying_the_caller_opted_out_records_the_opt_out() -> None:
    store, keywords = MemoryConversationStore(), Keywords()
    message_id = sent_message(store)
    report(store, "undelivered", code=21610, keywords=keywords)
    assert store.messages[message_id].error_code == 21610
    assert keywords.provider_opt_outs == [(CALLER, "SM1")]
