"""The dead-letter queue: list, show and replay. Replay re-validates against the current Event Catalog and is
idempotent: a dead letter is claimed for replay by one atomic update, so replaying it twice delivers it once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from domain.events.catalog import CATALOG, EventValidationError
from workers.broker import delivery_message


@dataclass(frozen=True)
class DeadLetterView:
    id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    handler: str
    tenant_id: uuid.UUID | None
    attempts: int
    last_error: str
    traceback: str
    dead_at: datetime
    replayed_at: datetime | None
    envelope: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "event_name": self.event_name,
            "handler": self.handler,
            "tenant_id": None if self.tenant_id is None else str(self.tenant_id),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "dead_at": self.dead_at.isoformat(),
            "replayed_at": None if self.replayed_at is None else self.replayed_at.isoformat(),
        }


@dataclass(frozen=True)
class ReplayResult:
    dead_letter_id: uuid.UUID
    status: str  # replayed | would_replay | already_replayed | not_found | invalid
    detail: str | None = None


def list_dead_letters(
    session: Session,
    *,
    tenant_id: uuid.UUID | None = None,
    event_name: str | None = None,
    handler: str | None = None,
    include_replayed: bool = False,
    limit: int = 1000,
) -> list[DeadLetterView]:
    clauses = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if not include_replayed:
        clauses.append("replayed_at IS NULL")
    if tenant_id is not None:
        clauses.append("tenant_id = :tenant_id")
        params["tenant_id"] = tenant_id
    if event_name is not None:
        clauses.append("event_name = :event_name")
        params["event_name"] = event_name
    if handler is not None:
        clauses.append("handler = :handler")
        params["handler"] = handler
    rows = session.execute(
        text(
            "SELECT id, delivery_id, event_id, event_name, handler, tenant_id, attempts, last_error, traceback,"
            f" dead_at, replayed_at, envelope FROM dead_letters WHERE {' AND '.join(clauses)}"
            " ORDER BY dead_at LIMIT :limit"
        ),
        params,
    ).all()
    return [DeadLetterView(**row._mapping) for row in rows]


def get_dead_letter(session: Session, dead_letter_id: uuid.UUID) -> DeadLetterView | None:
    row = session.execute(
        text(
            "SELECT id, delivery_id, event_id, event_name, handler, tenant_id, attempts, last_error, traceback,"
            " dead_at, replayed_at, envelope FROM dead_letters WHERE id = :id"
        ),
        {"id": dead_letter_id},
    ).one_or_none()
    return None if row is None else DeadLetterView(**row._mapping)


def replay_one(
    sessions: sessionmaker[Session], broker: dramatiq.Broker, dead_letter_id: uuid.UUID, *, dry_run: bool = False
) -> ReplayResult:
    with sessions() as session, session.begin():
        row = session.execute(
            text("SELECT delivery_id, envelope, replayed_at FROM dead_letters WHERE id = :id FOR UPDATE"),
            {"id": dead_letter_id},
        ).one_or_none()
        if row is None:
            return ReplayResult(dead_letter_id, "not_found")
        if row.replayed_at is not None:
            return ReplayResult(dead_letter_id, "already_replayed", row.replayed_at.isoformat())
        try:
            CATALOG.validate_envelope(row.envelope)
        except EventValidationError as error:
            return ReplayResult(dead_letter_id, "invalid", str(error))
        if dry_run:
            return ReplayResult(dead_letter_id, "would_replay")
        session.execute(text("UPDATE dead_letters SET replayed_at = now() WHERE id = :id"), {"id": dead_letter_id})
        delivery = session.execute(
            text(
                "UPDATE outbox_deliveries SET status = 'enqueued', attempts = 0, enqueued_at = now(),"
                " next_attempt_at = now(), last_error = NULL, completed_at = NULL"
                " WHERE id = :id AND status = 'dead' RETURNING queue, enqueued_at"
            ),
            {"id": row.delivery_id},
        ).one_or_none()
        if delivery is None:
            return ReplayResult(dead_letter_id, "already_replayed", "its delivery is no longer dead")
    # After commit; if this send is lost the redriver re-sends the 'enqueued' delivery.
    broker.enqueue(delivery_message(delivery.queue, str(row.delivery_id), enqueued_at=delivery.enqueued_at))
    return ReplayResult(dead_letter_id, "replayed")


def replay(
    sessions: sessionmaker[Session], broker: dramatiq.Broker, ids: Iterable[uuid.UUID], *, dry_run: bool = False
) -> list[ReplayResult]:
    return [replay_one(sessions, broker, dead_letter_id, dry_run=dry_run) for dead_letter_id in ids]
