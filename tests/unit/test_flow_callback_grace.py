"""The callback grace period against the in-memory store: a held first SMS, then one decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from db.settings import Settings
from domain.conversations.flows.callback_grace import decide_first_response, withhold_after_answered_call
from domain.conversations.flows.first_response import greet_missed_caller
from domain.conversations.ports import CallbackSeen, CallLogUnavailable
from domain.events.catalog import (
    CallAnswered,
    CallMissed,
    FirstResponseDecided,
    FirstResponseDeferred,
    FirstResponseGraceEnded,
    OutboundMessageRequested,
)
from tests.support.conversation_store import Directory, MemoryConversationStore, RecordingContext, profile

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)
TENANT_PROFILE = replace(profile(TENANT), callback_grace_seconds=30)


@dataclass
class CallList:
    seen: CallbackSeen | None = None
    down: bool = False
    asked: list[tuple[str, str, datetime, str]] = field(default_factory=list)

    def callback_since(
        self, *, business_number: str, customer: str, since: datetime, missed_call_sid: str
    ) -> CallbackSeen | None:
        self.asked.append((business_number, customer, since, missed_call_sid))
        if self.down:
            raise CallLogUnavailable("twilio 503")
        return self.seen


def held(store: MemoryConversationStore) -> tuple[RecordingContext, CallMissed]:
    event = CallMissed(
        call_sid=f"CA{uuid.uuid4().hex}", caller=CALLER, called="+16175550100", dial_status="no-answer", missed_at=NOW
    )
    ctx = RecordingContext(TENANT)
    greet_missed_caller(
        event, ctx, directory=Directory(TENANT_PROFILE), conversation_store=store.factory(), settings=Settings(),
        clock=lambda: NOW,
    )  # fmt: skip
    return ctx, event


def end(store: MemoryConversationStore, calls: CallList, *, attempt: int = 1) -> RecordingContext:
    (grace,) = store.graces.values()
    ctx = RecordingContext(TENANT, attempt=attempt)
    decide_first_response(
        FirstResponseGraceEnded(conversation_id=grace.conversation_id, grace_id=grace.id, call_sid=grace.call_sid),
        ctx,
        directory=Directory(TENANT_PROFILE),
        conversation_store=store.factory(),
        call_log=calls,
        settings=Settings(),
        clock=lambda: NOW + timedelta(seconds=31),
    )
    return ctx


def test_with_a_grace_period_the_first_sms_is_held_not_queued() -> None:
    store = MemoryConversationStore()
    ctx, event = held(store)
    assert store.outbound() == []
    (deferred,) = ctx.of(FirstResponseDeferred)
    assert deferred.send_after == NOW + timedelta(seconds=30)
    assert deferred.call_sid == event.call_sid


def test_no_callback_by_the_grace_end_sends_it_once_from_the_grace_end() -> None:
    store = MemoryConversationStore()
    _, event = held(store)
    calls = CallList()
    ctx = end(store, calls)
    assert calls.asked == [("+16175550100", CALLER, NOW, event.call_sid)]
    first = next(row for row in store.outbound() if row.purpose == "first_response")
    assert first.reference_at == NOW + timedelta(seconds=30)  # latency counts from the end of the tenant's wait
    (decided,) = ctx.of(FirstResponseDecided)
    assert (decided.decision, decided.reason, decided.seen_by) == ("sent", "no_callback", None)
    assert end(store, calls).events == []  # a redelivered grace end: already decided


def test_a_callback_in_the_call_list_withholds_it() -> None:
    store = MemoryConversationStore()
    held(store)
    ctx = end(store, CallList(CallbackSeen("CAstaff", "staff_called_back")))
    assert store.outbound() == []
    (decided,) = ctx.of(FirstResponseDecided)
    assert (decided.decision, decided.reason, decided.seen_by, decided.deciding_call_sid) == (
        "withheld", "staff_called_back", "call_list", "CAstaff",
    )  # fmt: skip


def test_an_answered_call_webhook_withholds_it_and_the_grace_end_then_does_nothing() -> None:
    store = MemoryConversationStore()
    held(store)
    ctx = RecordingContext(TENANT)
    answered = CallAnswered(
        call_sid="CArecall", direction="inbound", customer_phone=CALLER, business_number="+16175550100",
        answered_at=NOW + timedelta(seconds=10),
    )  # fmt: skip
    withhold_after_answered_call(answered, ctx, conversation_store=store.factory())
    (decided,) = ctx.of(FirstResponseDecided)
    assert (decided.reason, decided.seen_by) == ("caller_recall_answered", "webhook")
    calls = CallList()
    assert end(store, calls).events == []
    assert calls.asked == []  # decided: nobody asks Twilio
    assert store.outbound() == []


def test_a_call_list_outage_retries_once_then_sends_on_what_the_webhooks_said() -> None:
    store = MemoryConversationStore()
    held(store)
    with pytest.raises(CallLogUnavailable):
        end(store, CallList(down=True), attempt=1)
    assert store.outbound() == []
    ctx = end(store, CallList(down=True), attempt=2)
    (decided,) = ctx.of(FirstResponseDecided)
    assert (decided.decision, decided.reason) == ("sent", "no_callback_call_list_unavailable")
    assert next(request.purpose for request in ctx.of(OutboundMessageRequested)) == "first_response"


def test_a_conversation_a_person_took_during_the_grace_gets_no_first_sms() -> None:
    store = MemoryConversationStore()
    held(store)
    (conversation,) = store.conversations.values()
    conversation.state = "human"
    calls = CallList()
    ctx = end(store, calls)
    (decided,) = ctx.of(FirstResponseDecided)
    assert (decided.decision, decided.reason) == ("withheld", "staff_took_over")
    assert store.outbound() == []
    assert calls.asked == []
