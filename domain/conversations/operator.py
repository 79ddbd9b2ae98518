"""Operator-side conversation actions: take over (a lease), reply as a human, release to the AI, close; the lists
operators work from. Each state change is one conditional UPDATE, so two operators racing cannot both win.

Callers pass ``tenant_id`` on every call; the tenant's own number for a human reply is passed in (identity owns it).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from domain.conversations.callers import clean_name
from domain.conversations.models import Conversation, Message, OperatorTask
from domain.conversations.states import CONVERSATION_STATES
from domain.conversations.store import INBOX_VIEWS, PostgresConversationStore
from domain.events.catalog import (
    CallerNamed,
    ConversationClosed,
    HumanTakeoverReleased,
    HumanTakeoverRequested,
    OutboundMessageRequested,
)
from domain.events.sink import EventSink

DEFAULT_LEASE = timedelta(minutes=30)
MAX_PAGE = 100


class OperatorError(Exception):
    code = "conflict"


class NotFound(OperatorError):
    code = "not_found"


class Conflict(OperatorError):
    pass


class BadCursor(OperatorError):
    code = "bad_cursor"


def _conversation_json(row: Conversation, caller_name: str | None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "caller": row.caller,
        "caller_name": caller_name,
        "state": row.state,
        "human_user_id": str(row.human_user_id) if row.human_user_id else None,
        "human_lease_expires_at": row.human_lease_expires_at.isoformat() if row.human_lease_expires_at else None,
        "opened_at": row.opened_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
    }


def _message_json(row: Message) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "direction": row.direction,
        "purpose": row.purpose,
        "from_number": row.from_number,
        "to_number": row.to_number,
        "body": row.body,
        "status": row.status,
        "error_code": row.error_code,
        # The send preflight's verdict: sent, or blocked and which gate closed.
        "preflight": row.preflight,
        "created_at": row.created_at.isoformat(),
        "queued_at": row.queued_at.isoformat() if row.queued_at else None,
    }


# Who wrote an outbound message, by its purpose: a person on the staff, the AI, or the system (first SMS after a
# missed call, compliance answers, alerts).
AUTHOR_BY_PURPOSE = {"human_reply": "staff", "ai_reply": "ai"}


def author_of(direction: str, purpose: str | None) -> str:
    if direction == "in":
        return "caller"
    return AUTHOR_BY_PURPOSE.get(purpose or "", "system")


def _encode_cursor(opened_at: datetime, conversation_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{conversation_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        opened_at = datetime.fromisoformat(stamp)
        if opened_at.tzinfo is None:
            raise ValueError("naive")
        return opened_at, uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API issued") from None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def list_conversations(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    state: str | None = None,
    caller: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Newest first, keyset-paginated on (opened_at, id) so pages never skip or repeat while rows change."""
    if state is not None and state not in CONVERSATION_STATES:
        raise Conflict(f"state must be one of {', '.join(CONVERSATION_STATES)}")
    limit = max(1, min(limit, MAX_PAGE))
    after = _decode_cursor(cursor) if cursor is not None else None
    rows = PostgresConversationStore(session).conversations_page(
        tenant_id=tenant_id, state=state, caller=caller, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1][0].opened_at, rows[-1][0].id) if more and rows else None
    return Page([_conversation_json(row, name) for row, name in rows], next_cursor)


def _get(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    row = PostgresConversationStore(session).conversation(tenant_id=tenant_id, conversation_id=conversation_id)
    if row is None:
        raise NotFound("no such conversation")
    return row


def _get_named(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> tuple[Conversation, str | None]:
    found = PostgresConversationStore(session).named_conversation(tenant_id=tenant_id, conversation_id=conversation_id)
    if found is None:
        raise NotFound("no such conversation")
    return found


def hold_conversation(session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """The tenant's conversation, key-share locked until the transaction ends, so a hold or appointment that names
    it (scheduling keeps the id without a foreign key) names a row of this tenant that stays; else ``NotFound``."""
    if not PostgresConversationStore(session).hold_conversation(tenant_id=tenant_id, conversation_id=conversation_id):
        raise NotFound(f"conversation {conversation_id} not found")


def conversation_detail(session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> dict[str, Any]:
    conversation, name = _get_named(session, tenant_id, conversation_id)
    messages = PostgresConversationStore(session).messages_of(tenant_id=tenant_id, conversation_id=conversation_id)
    return {**_conversation_json(conversation, name), "messages": [_message_json(row) for row in messages]}


def _refreshed_json(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> dict[str, Any]:
    found = PostgresConversationStore(session).named_conversation(
        tenant_id=tenant_id, conversation_id=conversation_id, fresh=True
    )
    assert found is not None
    return _conversation_json(*found)


def take_over(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID | None,
    reason: str = "operator takeover",
    lease: timedelta = DEFAULT_LEASE,
    events: EventSink,
) -> dict[str, Any]:
    """Put the conversation in ``human`` for ``lease``; the same operator may renew, another must wait it out."""
    sink = events
    expires = datetime.now(UTC) + lease
    taken = PostgresConversationStore(session).take_over(
        tenant_id=tenant_id, conversation_id=conversation_id, user_id=user_id, expires=expires
    )
    if not taken:
        current = _get(session, tenant_id, conversation_id)
        raise Conflict(
            f"conversation is {current.state}" + (" by another operator" if current.state == "human" else "")
        )
    sink.emit(
        HumanTakeoverRequested(
            conversation_id=conversation_id,
            requested_by="operator",
            user_id=user_id,
            reason=reason,
            lease_expires_at=expires,
        ),
        tenant_id=tenant_id,
    )
    return _refreshed_json(session, tenant_id, conversation_id)


def reply_as_human(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID | None,
    body: str,
    from_number: str,
    events: EventSink,
    holder: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Write the outbound message (``pending``) and ask for it to be sent; the sender runs the preflight.

    With ``holder``, only while that holder's takeover lease is the one in force (decided by the same UPDATE)."""
    sink = events
    if not body.strip():
        raise Conflict("a reply needs a body")
    store = PostgresConversationStore(session)
    caller = store.hold_for_human_reply(tenant_id=tenant_id, conversation_id=conversation_id, holder=holder)
    if caller is None:
        current = _get(session, tenant_id, conversation_id)
        if current.state == "human" and holder is not None:
            raise Conflict("conversation is held by someone else, or your lease has lapsed")
        raise Conflict(f"conversation is {current.state}: take it over before replying")
    # The same insert as every automated message, so a human's reply has its segments and encoding too.
    message_id = store.insert_outbound(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        to_number=caller,
        from_number=from_number,
        body=body,
        purpose="human_reply",
    )
    sink.emit(
        OutboundMessageRequested(
            message_id=message_id,
            conversation_id=conversation_id,
            to_number=caller,
            from_number=from_number,
            body=body,
            purpose="human_reply",
        ),
        tenant_id=tenant_id,
    )
    message = store.message(tenant_id=tenant_id, message_id=message_id)
    assert message is not None
    return _message_json(message)


def release(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    events: EventSink,
    holder: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Back to the AI; with ``holder``, only from that holder (decided by the same UPDATE)."""
    sink = events
    store = PostgresConversationStore(session)
    if not store.release(tenant_id=tenant_id, conversation_id=conversation_id, holder=holder):
        current = _get(session, tenant_id, conversation_id)
        if current.state == "human" and holder is not None:
            raise Conflict("conversation is held by someone else")
        raise Conflict(f"conversation is {current.state}, not with a human")
    sink.emit(HumanTakeoverReleased(conversation_id=conversation_id, outcome="released"), tenant_id=tenant_id)
    return _refreshed_json(session, tenant_id, conversation_id)


def close(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    reason: str = "closed by operator",
    events: EventSink,
) -> dict[str, Any]:
    sink = events
    if not PostgresConversationStore(session).close(tenant_id=tenant_id, conversation_id=conversation_id):
        current = _get(session, tenant_id, conversation_id)
        raise Conflict(f"conversation is already {current.state}")
    sink.emit(ConversationClosed(conversation_id=conversation_id, reason=reason), tenant_id=tenant_id)
    return _refreshed_json(session, tenant_id, conversation_id)


def name_caller(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    name: str,
    user_id: uuid.UUID | None,
    events: EventSink,
) -> str:
    """Staff name the conversation's caller (for the tenant: every conversation with that number shows it); a name
    caller ID gives later never replaces it. The name as kept; ``InvalidName`` (a ``ValueError``) says why not."""
    kept = clean_name(name)
    conversation = _get(session, tenant_id, conversation_id)
    PostgresConversationStore(session).name_caller(
        tenant_id=tenant_id, caller=conversation.caller, name=kept, source="staff", named_by=user_id
    )
    events.emit(
        CallerNamed(phone=conversation.caller, caller_name=kept, source="staff", actor=user_id), tenant_id=tenant_id
    )
    return kept


def _task_json(row: OperatorTask) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "conversation_id": str(row.conversation_id) if row.conversation_id else None,
        "subject_ref": row.subject_ref,
        "note": row.note,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "done_at": row.done_at.isoformat() if row.done_at else None,
    }


def list_tasks(session: Session, *, tenant_id: uuid.UUID, status: str | None = "open") -> list[dict[str, Any]]:
    rows = PostgresConversationStore(session).tasks(tenant_id=tenant_id, status=status, limit=500)
    return [_task_json(row) for row in rows]


def complete_task(session: Session, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> dict[str, Any]:
    store = PostgresConversationStore(session)
    if not store.complete_task(tenant_id=tenant_id, task_id=task_id):
        raise NotFound("no such task")
    row = store.task(tenant_id=tenant_id, task_id=task_id)
    assert row is not None
    return _task_json(row)


# -- the staff inbox and thread --

INBOX_PAGE = 50


def _encode_inbox_cursor(seq: int, conversation_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{seq}|{conversation_id}".encode()).decode().rstrip("=")


def _decode_inbox_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq, _, ident = raw.partition("|")
        if not (seq.isascii() and seq.isdigit()) or len(seq) > 19:
            raise ValueError("seq")
        return int(seq), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("cursor is not one this inbox issued") from None


@dataclass(frozen=True)
class Inbox:
    view: str
    items: list[dict[str, Any]]
    counts: dict[str, int]
    next_cursor: str | None


def inbox(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    view: str = "open",
    number: str | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: int = INBOX_PAGE,
) -> Inbox:
    """The tenant's conversations in ``view`` by last activity, each with its last message, whether this member
    has read it and whether it needs attention; a search keeps those whose caller's number contains the digits
    ``number`` or whose name contains ``name`` (any case)."""
    if view not in INBOX_VIEWS:
        raise Conflict(f"view must be one of {', '.join(INBOX_VIEWS)}")
    store = PostgresConversationStore(session)
    before = _decode_inbox_cursor(cursor) if cursor else None
    rows = store.inbox_page(
        tenant_id=tenant_id, user_id=user_id, view=view, number=number, name=name, before=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": str(row.id),
            "caller": row.caller,
            "caller_name": row.caller_name,
            "state": row.state,
            "held_by": str(row.human_user_id) if row.human_user_id else None,
            "opened_at": row.opened_at,
            "last_message_at": row.last_message_at,
            "preview": row.preview,
            "preview_author": author_of(row.preview_direction, None) if row.preview_direction else None,
            "unread": bool(row.unread) and user_id is not None,
            "asked_for_person": bool(row.asked_for_person),
            "needs_attention": bool(row.needs_attention),
            "open_tasks": list(row.open_tasks or ()),
            "alert_code": row.alert_code,
            "appointment_outcome": row.appointment_outcome,
            # Why the first text after the missed call was not sent (a callback came in its grace period), if so.
            "first_text_withheld": row.first_text_withheld,
        }
        for row in rows
    ]
    next_cursor = _encode_inbox_cursor(rows[-1].last_message_seq, rows[-1].id) if more and rows else None
    return Inbox(view, items, store.inbox_counts(tenant_id=tenant_id), next_cursor)


def thread(
    session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, reader: uuid.UUID | None
) -> dict[str, Any]:
    """The conversation with its messages in their true order (``seq``), who wrote each, its open tasks and the
    first texts held for a callback (``first_texts``: each decision and why); the reader (a member) has then read it
    up to its newest message."""
    conversation, caller_name = _get_named(session, tenant_id, conversation_id)
    store = PostgresConversationStore(session)
    messages = [
        {**_message_json(row), "seq": row.seq, "author": author_of(row.direction, row.purpose)}
        for row in store.messages_of(tenant_id=tenant_id, conversation_id=conversation_id)
    ]
    tasks = [
        {"id": str(task.id), "kind": task.kind, "note": task.note, "created_at": task.created_at.isoformat()}
        for task in store.open_tasks_of(tenant_id=tenant_id, conversation_id=conversation_id)
    ]
    first_texts = [
        {
            "call_sid": row.call_sid,
            "missed_at": row.missed_at.isoformat(),
            "send_after": row.send_after.isoformat(),
            "decided_at": None if row.decided_at is None else row.decided_at.isoformat(),
            "decision": row.decision,
            "reason": row.reason,
            "deciding_call_sid": row.deciding_call_sid,
        }
        for row in store.graces_of(tenant_id=tenant_id, conversation_id=conversation_id)
    ]
    if reader is not None:
        store.mark_read(tenant_id=tenant_id, user_id=reader, conversation_id=conversation_id)
    return {
        **_conversation_json(conversation, caller_name),
        "last_message_seq": conversation.last_message_seq,
        "messages": messages,
        "open_tasks": tasks,
        "first_texts": first_texts,
    }
