"""The first-response flow against the in-memory store: a missed call gets one first SMS per window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from db.settings import Settings
from domain.conversations.flows.first_response import greet_missed_caller
from domain.events.catalog import CallMissed, ConversationOpened, OutboundMessageRequested
from tests.support.conversation_store import Directory, MemoryConversationStore, RecordingContext, profile

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)


def missed(at: datetime = NOW) -> CallMissed:
    return CallMissed(
        call_sid=f"CA{uuid.uuid4().hex}", caller=CALLER, called="+16175550100", dial_status="no-answer", missed_at=at
    )


def greet(
    store: MemoryConversationStore,
    event: CallMissed,
    *,
    now: datetime = NOW,
    open_now: bool = True,
    owner_mobile: str | None = "+16175550999",
) -> RecordingContext:
    ctx = RecordingContext(TENANT)
    greet_missed_caller(
        event,
        ctx,
        directory=Directory(profile(TENANT, owner_mobile=owner_mobile, open_now=open_now)),
        conversation_store=store.factory(),
        settings=Settings(),
        clock=lambda: now,
    )
    return ctx


def test_a_missed_call_opens_a_conversation_and_queues_the_first_sms_and_tells_the_owner() -> None:
    store = MemoryConversationStore()
    event = missed(NOW - timedelta(seconds=2))
    ctx = greet(store, event)
    conversation = store.live(TENANT, CALLER)
    assert conversation is not None
    assert [opened.conversation_id for opened in ctx.of(ConversationOpened)] == [conversation.id]
    first, owner = store.outbound()
    assert (first.purpose, first.to_number, first.status) == ("first_response", CALLER, "pending")
    assert first.body == "Hi, this is Ace Plumbing. Sorry we missed your call: how can we help?"
    assert first.reference_at == event.missed_at
    assert (first.segments, first.encoding) == (1, "GSM-7")
    assert (owner.purpose, owner.to_number, owner.conversation_id) == ("notification", "+16175550999", None)
    assert [request.message_id for request in ctx.of(OutboundMessageRequested)] == [first.id, owner.id]


def test_a_second_call_in_the_window_sends_nothing_more() -> None:
    store = MemoryConversationStore()
    greet(store, missed())
    again = greet(store, missed(), now=NOW + timedelta(minutes=59))
    assert again.events == []
    assert len(store.outbound()) == 2


def test_a_call_after_the_window_gets_a_new_first_sms_in_the_same_conversation() -> None:
    store = MemoryConversationStore()
    greet(store, missed())
    later = greet(store, missed(), now=NOW + timedelta(minutes=61))
    assert later.of(ConversationOpened) == []
    assert [row.purpose for row in store.outbound()] == ["first_response", "notification"] * 2
    assert len(store.conversations) == 1


def test_no_first_sms_while_a_person_holds_the_conversation() -> None:
    store = MemoryConversationStore()
    opened = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    store.hand_to_human(tenant_id=TENANT, conversation_id=opened.id, expires=NOW + timedelta(minutes=30))
    ctx = greet(store, missed())
    assert ctx.events == []
    assert store.outbound() == []
    assert (TENANT, CALLER) in store.claims  # the window is used up all the same


def test_after_hours_the_after_hours_template_is_sent_and_no_owner_mobile_means_no_notification() -> None:
    store = MemoryConversationStore()
    greet(store, missed(), open_now=False, owner_mobile=None)
    (only,) = store.outbound()
    assert only.body.startswith("Hi, this is Ace Plumbing. We're closed now")


def test_a_tenant_without_a_profile_is_an_error_and_writes_nothing() -> None:
    store = MemoryConversationStore()
    ctx = RecordingContext(TENANT)
    with pytest.raises(LookupError):
        greet_missed_caller(
            missed(),
            ctx,
            directory=Directory(None),
            conversation_store=store.factory(),
            settings=Settings(),
            clock=lambda: NOW,
        )
    assert store.conversations == {}


def test_a_missed_call_from_a_staff_number_texts_nobody_and_opens_nothing() -> None:
    from dataclasses import replace

    from domain.conversations.ports import StaffMember
    from domain.events.catalog import StaffCallRecognised

    store = MemoryConversationStore()
    event = missed()
    tenant = replace(profile(TENANT), staff=(StaffMember(phone=event.caller, role="TECH", user_id=None),))
    ctx = RecordingContext(TENANT)
    greet_missed_caller(
        event,
        ctx,
        directory=Directory(tenant),
        conversation_store=store.factory(),
        settings=Settings(),
        clock=lambda: NOW,
    )
    assert store.outbound() == []
    assert store.live(TENANT, event.caller) is None
    assert [(e.call_sid, e.phone) for e in ctx.of(StaffCallRecognised)] == [(event.call_sid, event.caller)]
