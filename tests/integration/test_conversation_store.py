"""The conversations store on Postgres: every outbound message, whoever writes it, carries its segments and encoding."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.conversations import operator

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def _human_held_conversation(session: Session) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    session.execute(
        text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, '+16175550100', 'open')"),
        {"id": conversation_id, "t": TENANT},
    )
    operator.take_over(session, tenant_id=TENANT, conversation_id=conversation_id, user_id=None)
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
        )
    with sessions() as session:
        row = session.execute(
            text("SELECT segments, encoding FROM conv_messages WHERE id = :id"), {"id": uuid.UUID(reply["id"])}
        ).one()
    assert (row.segments, row.encoding) == (2, "UCS-2")
