"""The conversations side of the appointment lifecycle, for the composition layer's jobs: write a confirmation,
reminder or follow-up into the caller's conversation (through the one sender, so through the preflight), ask again
for messages quiet hours deferred once their time has come, and find the callers who never answered the first SMS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.conversations.store import PostgresConversationStore
from domain.events.catalog import ConversationOpened, FollowUpRequested, MessageBlocked, OutboundMessageRequested
from domain.events.sink import EventSink


@dataclass(frozen=True)
class QueuedText:
    message_id: uuid.UUID
    conversation_id: uuid.UUID


def request_text(
    session: Session,
    *,
    events: EventSink,
    tenant_id: uuid.UUID,
    caller: str,
    from_number: str,
    body: str,
    purpose: str,
    context: Mapping[str, Any] | None = None,
) -> QueuedText:
    """Write ``body`` to the caller's live conversation (opened if none) and ask the sender for it; ``context`` is
    the appointment the caller's next reply is about."""
    store = PostgresConversationStore(session)
    conversation = store.open_or_get(tenant_id=tenant_id, caller=caller)
    if conversation.opened:
        events.emit(
            ConversationOpened(conversation_id=conversation.id, caller=caller, trigger="operator"), tenant_id=tenant_id
        )
    if context is not None:
        set_appointment_context(session, conversation.id, context)
    message_id = store.insert_outbound(
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        to_number=caller,
        from_number=from_number,
        body=body,
        purpose=purpose,
    )
    events.emit(
        OutboundMessageRequested(
            message_id=message_id,
            conversation_id=conversation.id,
            to_number=caller,
            from_number=from_number,
            body=body,
            purpose=purpose,  # type: ignore[arg-type]
        ),
        tenant_id=tenant_id,
    )
    return QueuedText(message_id, conversation.id)


def set_appointment_context(session: Session, conversation_id: uuid.UUID, context: Mapping[str, Any] | None) -> None:
    PostgresConversationStore(session).set_appointment_context(
        conversation_id, None if context is None else dict(context)
    )


def appointment_context(session: Session, conversation_id: uuid.UUID) -> dict[str, Any] | None:
    return PostgresConversationStore(session).appointment_context(conversation_id)


def release_deferred(
    session: Session,
    *,
    now: datetime,
    sink_for: Callable[[uuid.UUID], EventSink],
    still_wanted: Callable[[uuid.UUID, uuid.UUID, str], bool],
    limit: int = 500,
) -> int:
    """Ask again for each deferred message whose time has come, once; ``still_wanted(tenant, message, purpose)``
    false (a reminder whose appointment moved or was cancelled meanwhile) blocks it instead."""
    store = PostgresConversationStore(session)
    released = store.release_deferred(now, limit=limit)
    for row in released:
        sink = sink_for(row.tenant_id)
        if not still_wanted(row.tenant_id, row.id, row.purpose):
            store.mark_blocked(row.id, {"allowed": False, "reason": "appointment_changed"})
            sink.emit(
                MessageBlocked(message_id=row.id, conversation_id=row.conversation_id, reason="appointment_changed"),
                tenant_id=row.tenant_id,
            )
            continue
        sink.emit(
            OutboundMessageRequested(
                message_id=row.id,
                conversation_id=row.conversation_id,
                to_number=row.to_number,
                from_number=row.from_number,
                body=row.body,
                purpose=row.purpose,
            ),
            tenant_id=row.tenant_id,
        )
    return len(released)


@dataclass(frozen=True)
class FollowUpCandidate:
    conversation_id: uuid.UUID
    tenant_id: uuid.UUID
    caller: str
    first_message_id: uuid.UUID
    from_number: str


def follow_up_candidates(
    session: Session, *, delays: Mapping[uuid.UUID, int], now: datetime, limit: int = 200
) -> list[FollowUpCandidate]:
    """Open conversations, never taken over, whose first SMS went ``delay`` ago (within a day of it) and that have
    heard nothing from the caller, nor sent a follow-up or a person's reply."""
    if not delays:
        return []
    rows = PostgresConversationStore(session).follow_up_candidates(
        tenants=list(delays), delays=list(delays.values()), now=now, limit=limit
    )
    return [FollowUpCandidate(**row._mapping) for row in rows]


def request_follow_up(
    session: Session, candidate: FollowUpCandidate, *, body: str, events: EventSink
) -> uuid.UUID | None:
    """The one follow-up of the conversation, or None when it already has one."""
    message_id = PostgresConversationStore(session).insert_follow_up(
        tenant_id=candidate.tenant_id,
        conversation_id=candidate.conversation_id,
        from_number=candidate.from_number,
        to_number=candidate.caller,
        body=body,
    )
    if message_id is None:
        return None
    events.emit(
        FollowUpRequested(
            conversation_id=candidate.conversation_id,
            message_id=message_id,
            first_message_id=candidate.first_message_id,
            caller=candidate.caller,
        ),
        tenant_id=candidate.tenant_id,
    )
    events.emit(
        OutboundMessageRequested(
            message_id=message_id,
            conversation_id=candidate.conversation_id,
            to_number=candidate.caller,
            from_number=candidate.from_number,
            body=body,
            purpose="follow_up",
        ),
        tenant_id=candidate.tenant_id,
    )
    return message_id
