"""The opt-out flow against the in-memory store: live conversations blocked, a booked job handed to a person."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.conversations.flows.opt_out import block_opted_out_caller
from domain.events.catalog import ConversationBlocked, OptOutRecorded
from tests.support.conversation_store import Appointments, MemoryConversationStore, RecordingContext

TENANT = uuid.uuid4()
CALLER = "+16175550123"
NOW = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)


def opt_out(store: MemoryConversationStore, *, upcoming: bool = False, tenant: uuid.UUID = TENANT) -> RecordingContext:
    ctx = RecordingContext(tenant)
    event = OptOutRecorded(phone=CALLER, source="keyword", keyword="STOP", message_ref=None)
    block_opted_out_caller(
        event, ctx, appointments=Appointments(upcoming), conversation_store=store.factory(), clock=lambda: NOW
    )
    return ctx


def test_the_callers_live_conversation_is_blocked_and_the_next_one_is_new() -> None:
    store = MemoryConversationStore()
    before = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    ctx = opt_out(store)
    assert store.conversations[before.id].state == "blocked"
    assert [blocked.conversation_id for blocked in ctx.of(ConversationBlocked)] == [before.id]
    assert store.tasks == []
    after = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    assert after.opened
    assert after.id != before.id


def test_another_tenants_conversation_with_the_same_caller_is_left_alone() -> None:
    store = MemoryConversationStore()
    theirs = store.open_or_get(tenant_id=uuid.uuid4(), caller=CALLER)
    assert opt_out(store).events == []
    assert store.conversations[theirs.id].state == "open"


def test_an_upcoming_appointment_becomes_a_task_to_confirm_it_by_phone() -> None:
    store = MemoryConversationStore()
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    opt_out(store, upcoming=True)
    (task,) = store.tasks
    assert (task.kind, task.conversation_id, task.subject_ref) == ("confirm_appointment", conversation.id, CALLER)


def test_an_upcoming_appointment_without_a_conversation_still_gets_its_task() -> None:
    store = MemoryConversationStore()
    opt_out(store, upcoming=True)
    assert [(task.kind, task.conversation_id) for task in store.tasks] == [("confirm_appointment", None)]
