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

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from domain.conversations.models import CONVERSATION_STATES, Conversation, Message, OperatorTask
from domain.events.catalog import (
    ConversationClosed,
    HumanTakeoverReleased,
    HumanTakeoverRequested,
    OutboundMessageRequested,
)
from domain.events.sink import EventSink, sink_or_root

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


def _conversation_json(row: Conversation) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "caller": row.caller,
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
    query = select(Conversation).where(Conversation.tenant_id == tenant_id)
    if state is not None:
        query = query.where(Conversation.state == state)
    if caller is not None:
        query = query.where(Conversation.caller == caller)
    if cursor is not None:
        opened_at, last_id = _decode_cursor(cursor)
        query = query.where(tuple_(Conversation.opened_at, Conversation.id) < tuple_(opened_at, last_id))
    rows = session.scalars(query.order_by(Conversation.opened_at.desc(), Conversation.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1].opened_at, rows[-1].id) if more and rows else None
    return Page([_conversation_json(row) for row in rows], next_cursor)


def _get(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    row = session.scalar(
        select(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
    )
    if row is None:
        raise NotFound("no such conversation")
    return row


def hold_conversation(session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """The tenant's conversation, key-share locked until the transaction ends, so a hold or appointment that names
    it (scheduling keeps the id without a foreign key) names a row of this tenant that stays; else ``NotFound``."""
    found = session.scalar(
        select(Conversation.id)
        .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        .with_for_update(key_share=True)
    )
    if found is None:
        raise NotFound(f"conversation {conversation_id} not found")


def conversation_detail(session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> dict[str, Any]:
    conversation = _get(session, tenant_id, conversation_id)
    messages = session.scalars(
        select(Message)
        .where(Message.tenant_id == tenant_id, Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
    ).all()
    return {**_conversation_json(conversation), "messages": [_message_json(row) for row in messages]}


def _refresh(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    row = session.scalar(
        select(Conversation)
        .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def take_over(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID | None,
    reason: str = "operator takeover",
    lease: timedelta = DEFAULT_LEASE,
    events: EventSink | None = None,
) -> dict[str, Any]:
    """Put the conversation in ``human`` for ``lease``; the same operator may renew, another must wait it out."""
    sink = sink_or_root(session, events)
    expires = datetime.now(UTC) + lease
    taken = session.execute(
        text(
            "UPDATE conv_conversations SET state = 'human', human_user_id = :user, human_lease_expires_at = :expires,"
            " updated_at = now()"
            " WHERE tenant_id = :tenant AND id = :id AND (state = 'open' OR (state = 'human' AND"
            " (human_user_id IS NOT DISTINCT FROM :user OR human_lease_expires_at IS NULL"
            "  OR human_lease_expires_at < now()))) RETURNING id"
        ),
        {"user": user_id, "expires": expires, "tenant": tenant_id, "id": conversation_id},
    ).first()
    if taken is None:
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
    return _conversation_json(_refresh(session, tenant_id, conversation_id))


def reply_as_human(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID | None,
    body: str,
    from_number: str,
    events: EventSink | None = None,
) -> dict[str, Any]:
    """Write the outbound message (``pending``) and ask for it to be sent; the sender runs the preflight."""
    sink = sink_or_root(session, events)
    if not body.strip():
        raise Conflict("a reply needs a body")
    held = session.execute(
        text(
            "UPDATE conv_conversations SET updated_at = now() WHERE tenant_id = :tenant AND id = :id"
            " AND state = 'human' RETURNING caller"
        ),
        {"tenant": tenant_id, "id": conversation_id},
    ).first()
    if held is None:
        current = _get(session, tenant_id, conversation_id)
        raise Conflict(f"conversation is {current.state}: take it over before replying")
    message = Message(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        direction="out",
        purpose="human_reply",
        from_number=from_number,
        to_number=held.caller,
        body=body,
        status="pending",
    )
    session.add(message)
    session.flush()
    sink.emit(
        OutboundMessageRequested(
            message_id=message.id,
            conversation_id=conversation_id,
            to_number=held.caller,
            from_number=from_number,
            body=body,
            purpose="human_reply",
        ),
        tenant_id=tenant_id,
    )
    session.refresh(message)
    return _message_json(message)


def release(
    session: Session, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID, events: EventSink | None = None
) -> dict[str, Any]:
    sink = sink_or_root(session, events)
    released = session.execute(
        text(
            "UPDATE conv_conversations SET state = 'open', human_user_id = NULL, human_lease_expires_at = NULL,"
            " updated_at = now() WHERE tenant_id = :tenant AND id = :id AND state = 'human' RETURNING id"
        ),
        {"tenant": tenant_id, "id": conversation_id},
    ).first()
    if released is None:
        current = _get(session, tenant_id, conversation_id)
        raise Conflict(f"conversation is {current.state}, not with a human")
    sink.emit(HumanTakeoverReleased(conversation_id=conversation_id, outcome="released"), tenant_id=tenant_id)
    return _conversation_json(_refresh(session, tenant_id, conversation_id))


def close(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    reason: str = "closed by operator",
    events: EventSink | None = None,
) -> dict[str, Any]:
    sink = sink_or_root(session, events)
    closed = session.execute(
        text(
            "UPDATE conv_conversations SET state = 'closed', closed_at = now(), human_user_id = NULL,"
            " human_lease_expires_at = NULL, updated_at = now()"
            " WHERE tenant_id = :tenant AND id = :id AND state IN ('open', 'human') RETURNING id"
        ),
        {"tenant": tenant_id, "id": conversation_id},
    ).first()
    if closed is None:
        current = _get(session, tenant_id, conversation_id)
        raise Conflict(f"conversation is already {current.state}")
    sink.emit(ConversationClosed(conversation_id=conversation_id, reason=reason), tenant_id=tenant_id)
    return _conversation_json(_refresh(session, tenant_id, conversation_id))


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
    query = select(OperatorTask).where(OperatorTask.tenant_id == tenant_id)
    if status is not None:
        query = query.where(OperatorTask.status == status)
    rows = session.scalars(query.order_by(OperatorTask.created_at, OperatorTask.id).limit(500)).all()
    return [_task_json(row) for row in rows]


def complete_task(session: Session, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> dict[str, Any]:
    done = session.execute(
        text(
            "UPDATE conv_operator_tasks SET status = 'done', done_at = coalesce(done_at, now())"
            " WHERE tenant_id = :tenant AND id = :id RETURNING id"
        ),
        {"tenant": tenant_id, "id": task_id},
    ).first()
    if done is None:
        raise NotFound("no such task")
    row = session.scalar(
        select(OperatorTask)
        .where(OperatorTask.tenant_id == tenant_id, OperatorTask.id == task_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return _task_json(row)
