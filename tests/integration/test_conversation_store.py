"""The conversations store on Postgres: every outbound message, whoever writes it, carries its segments and encoding;
and the store's contract, which the in-memory store the flows' unit tests use must keep too."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.conversations import operator
from domain.conversations.store import ConversationStore, PostgresConversationStore, StatusMove
from domain.events.sink import RootSink
from tests.support.conversation_store import MemoryConversationStore

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def _human_held_conversation(session: Session) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    session.execute(
        text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, '+16175550100', 'open')"),
        {"id": conversation_id, "t": TENANT},
    )
    operator.take_over(
        session, tenant_id=TENANT, conversation_id=conversation_id, user_id=None, events=RootSink(session)
    )
    return conversation_id


def test_an_operator_reply_is_stored_with_its_segments_and_encoding(sessions: sessionmaker[Session]) -> None:
    body = "Hi! We can come at 3 — does that work? 🙂 " * 3  # UCS-2 (the emoji and dash), 126 units: two segments
    with transaction(sessions) as session:
        conversation_id = _human_held_conversation(session)
        reply = operator.reply_as_human(
            session,
            tenant_id=TENANT,
            conversation_id=conversation_id,
            user_id=None,
            body=body,
            from_number="+16175550199",
            events=RootSink(session),
        )
    with sessions() as session:
        row = session.execute(
            text("SELECT segments, encoding FROM conv_messages WHERE id = :id"), {"id": uuid.UUID(reply["id"])}
        ).one()
    assert (row.segments, row.encoding) == (2, "UCS-2")


# -- the store's contract, held by Postgres and by the in-memory store the flows' unit tests use --------------------

CALLER = "+16175550123"
OTHER_TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000bb")


@dataclass
class Subject:
    store: ConversationStore
    commit: Callable[[], None]


@pytest.fixture(params=["postgres", "memory"])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "memory":
        yield Subject(MemoryConversationStore(), lambda: None)
        return
    sessions: sessionmaker[Session] = request.getfixturevalue("sessions")
    with sessions() as session:
        yield Subject(PostgresConversationStore(session, intents=sessions), session.commit)
        session.rollback()


def _outbound(store: ConversationStore, *, tenant_id: uuid.UUID = TENANT) -> uuid.UUID:
    return store.insert_outbound(
        tenant_id=tenant_id,
        conversation_id=None,
        to_number=CALLER,
        from_number="+16175550199",
        body="On our way.",
        purpose="ai_reply",
    )


def test_open_or_get_opens_one_live_conversation_per_caller_and_a_new_one_after_close(subject: Subject) -> None:
    store = subject.store
    first = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    again = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    theirs = store.open_or_get(tenant_id=OTHER_TENANT, caller=CALLER)
    assert (first.opened, again.opened, theirs.opened) == (True, False, True)
    assert (again.id, again.state) == (first.id, "open")
    assert theirs.id != first.id
    assert store.close(tenant_id=TENANT, conversation_id=first.id)
    assert not store.close(tenant_id=TENANT, conversation_id=first.id)
    later = store.open_or_get(tenant_id=TENANT, caller=CALLER)
    assert later.opened
    assert later.id != first.id


def test_a_takeover_holds_off_another_operator_until_the_lease_lapses(subject: Subject) -> None:
    store = subject.store
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
    alice, bob = uuid.uuid4(), uuid.uuid4()
    soon = datetime.now(UTC) + timedelta(minutes=30)
    assert store.hold_for_human_reply(tenant_id=TENANT, conversation_id=conversation) is None
    assert store.take_over(tenant_id=TENANT, conversation_id=conversation, user_id=alice, expires=soon)
    assert store.take_over(tenant_id=TENANT, conversation_id=conversation, user_id=alice, expires=soon)  # renewed
    assert not store.take_over(tenant_id=TENANT, conversation_id=conversation, user_id=bob, expires=soon)
    assert not store.take_over(tenant_id=OTHER_TENANT, conversation_id=conversation, user_id=bob, expires=soon)
    assert store.hold_for_human_reply(tenant_id=TENANT, conversation_id=conversation) == CALLER
    assert store.hold_for_human_reply(tenant_id=OTHER_TENANT, conversation_id=conversation) is None
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    assert store.take_over(tenant_id=TENANT, conversation_id=conversation, user_id=alice, expires=lapsed)
    assert store.take_over(tenant_id=TENANT, conversation_id=conversation, user_id=bob, expires=soon)
    assert store.release(tenant_id=TENANT, conversation_id=conversation)
    assert not store.release(tenant_id=TENANT, conversation_id=conversation)
    assert store.state_for_send(conversation) == "open"


def test_a_callers_handoff_only_takes_an_open_conversation(subject: Subject) -> None:
    store = subject.store
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
    store.hand_to_human(tenant_id=OTHER_TENANT, conversation_id=conversation, expires=datetime.now(UTC))
    assert store.state_for_send(conversation) == "open"
    store.hand_to_human(tenant_id=TENANT, conversation_id=conversation, expires=datetime.now(UTC))
    assert store.state_for_send(conversation) == "human"


def test_blocking_a_caller_blocks_only_their_live_conversation_with_this_tenant(subject: Subject) -> None:
    store = subject.store
    ours = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
    theirs = store.open_or_get(tenant_id=OTHER_TENANT, caller=CALLER).id
    assert store.block_caller(tenant_id=TENANT, phone=CALLER) == [ours]
    assert store.block_caller(tenant_id=TENANT, phone=CALLER) == []
    assert (store.state_for_send(ours), store.state_for_send(theirs)) == ("blocked", "open")
    assert not store.close(tenant_id=TENANT, conversation_id=ours)


def test_one_first_response_claim_per_caller_per_window(subject: Subject) -> None:
    store, now, window = subject.store, datetime.now(UTC), timedelta(minutes=60)

    def claim(at: datetime, tenant_id: uuid.UUID = TENANT) -> bool:
        return store.claim_first_response(tenant_id=tenant_id, caller=CALLER, call_sid="CA1", now=at, window=window)

    assert claim(now)
    assert not claim(now + timedelta(minutes=59))
    assert claim(now, OTHER_TENANT)
    assert claim(now + timedelta(minutes=60))


def test_an_inbound_message_is_recorded_once_per_provider_sid(subject: Subject) -> None:
    store = subject.store
    sid = f"SM{uuid.uuid4().hex}"

    def receive() -> uuid.UUID | None:
        return store.insert_inbound(
            tenant_id=TENANT,
            from_number=CALLER,
            to_number="+16175550199",
            body="hello",
            message_sid=sid,
            received_at=datetime.now(UTC),
        )

    first = receive()
    assert first is not None
    assert receive() is None
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
    store.attach_message(first, conversation)


def test_an_inbound_message_keeps_the_providers_receipt_time_and_the_sequence_orders_the_thread(
    sessions: sessionmaker[Session],
) -> None:
    # A worker that gets to the text late (a backlog, a retry) still dates it when the provider handed it over; the
    # reply written in the same transaction comes after it by its sequence, whatever the clock says.
    received = datetime.now(UTC) - timedelta(minutes=7)
    with transaction(sessions) as session:
        store = PostgresConversationStore(session)
        message = store.insert_inbound(
            tenant_id=TENANT,
            from_number=CALLER,
            to_number="+16175550199",
            body="is anyone there?",
            message_sid=f"SM{uuid.uuid4().hex}",
            received_at=received,
        )
        assert message is not None
        conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
        store.attach_message(message, conversation)
        operator.take_over(
            session, tenant_id=TENANT, conversation_id=conversation, user_id=None, events=RootSink(session)
        )
        operator.reply_as_human(
            session,
            tenant_id=TENANT,
            conversation_id=conversation,
            user_id=None,
            body="yes, here",
            from_number="+16175550199",
            events=RootSink(session),
        )
    with transaction(sessions) as session:
        thread = operator.thread(session, tenant_id=TENANT, conversation_id=conversation, reader=None)
    assert [m["body"] for m in thread["messages"]] == ["is anyone there?", "yes, here"]
    assert thread["messages"][0]["seq"] < thread["messages"][1]["seq"]
    assert datetime.fromisoformat(thread["messages"][0]["created_at"]) == received


def test_a_message_only_moves_forward_and_an_unknown_sid_is_unknown(subject: Subject) -> None:
    store = subject.store
    sid = f"SM{uuid.uuid4().hex}"
    message = _outbound(store)
    assert store.outbound_message(tenant_id=TENANT, message_id=message).status == "pending"
    assert store.advance_status(tenant_id=TENANT, sid=sid, status="sent", error_code=None) is None
    assert not store.knows_message(tenant_id=TENANT, sid=sid)
    store.mark_queued(message, sid=sid, now=datetime.now(UTC), latency_ms=None, record={"allowed": True}, segments=1)
    assert store.knows_message(tenant_id=TENANT, sid=sid)
    assert not store.knows_message(tenant_id=OTHER_TENANT, sid=sid)
    assert store.advance_status(tenant_id=OTHER_TENANT, sid=sid, status="sent", error_code=None) is None
    moved = store.advance_status(tenant_id=TENANT, sid=sid, status="sent", error_code=None)
    assert moved == StatusMove(message, "queued", CALLER)
    assert store.advance_status(tenant_id=TENANT, sid=sid, status="queued", error_code=None) is None
    assert store.advance_status(tenant_id=TENANT, sid=sid, status="delivered", error_code=None) is not None
    assert store.advance_status(tenant_id=TENANT, sid=sid, status="failed", error_code=30003) is None
    assert store.outbound_message(tenant_id=TENANT, message_id=message).status == "delivered"


def test_blocked_and_failed_are_final_marks(subject: Subject) -> None:
    store = subject.store
    blocked, failed = _outbound(store), _outbound(store)
    store.mark_blocked(blocked, {"allowed": False, "reason": "opted_out"})
    store.mark_failed(failed, 21610, {"allowed": True})
    assert store.outbound_message(tenant_id=TENANT, message_id=blocked).status == "blocked"
    assert store.outbound_message(tenant_id=TENANT, message_id=failed).status == "failed"


def test_the_send_intent_is_recorded_once_and_reported_to_the_next_attempt(subject: Subject) -> None:
    store = subject.store
    message = _outbound(store)
    subject.commit()  # the intent commits in its own transaction, which must see the message
    first = datetime(2025, 3, 6, 15, 0, tzinfo=UTC)
    assert store.record_send_intent(message, first) is None
    assert store.record_send_intent(message, first + timedelta(minutes=1)) == first


def test_the_engine_state_starts_empty_and_keeps_what_was_saved(subject: Subject) -> None:
    store = subject.store
    conversation = store.open_or_get(tenant_id=TENANT, caller=CALLER).id
    assert store.engine_state(conversation) == {}
    store.save_engine_state(conversation, {"stage": "held", "hold_id": "abc"})
    assert store.engine_state(conversation) == {"stage": "held", "hold_id": "abc"}


def test_eight_concurrent_openers_of_one_callers_conversation_open_exactly_one(sessions: sessionmaker[Session]) -> None:
    # Each opener looks first, finds nothing, and inserts: the partial unique index lets one win, and every loser
    # waits for the winner's commit and then locks the winner's row.
    start = threading.Barrier(8)

    def open_one() -> tuple[uuid.UUID, bool]:
        with transaction(sessions) as session:
            store = PostgresConversationStore(session)
            start.wait()
            opened = store.open_or_get(tenant_id=TENANT, caller="+14155550188")
            time.sleep(0.05)  # hold the row, so the others really wait on it
            return opened.id, opened.opened

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: open_one(), range(8)))
    assert len({conversation_id for conversation_id, _ in results}) == 1
    assert sorted(opened for _, opened in results) == [False] * 7 + [True]
    with transaction(sessions) as session:
        count = text("SELECT count(*) FROM conv_conversations WHERE caller = '+14155550188'")
        assert session.execute(count).scalar_one() == 1
