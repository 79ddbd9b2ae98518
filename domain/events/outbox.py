"""Appending domain events to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

from db.models import OutboxEvent
from domain.events.catalog import CATALOG
from domain.events.envelope import Envelope, new_event_id, utcnow

OUTBOX_TABLE: Table = OutboxEvent.__table__  # type: ignore[assignment]


def build_envelope(
    event: object,
    *,
    tenant_id: uuid.UUID | None,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Validate ``event`` against the catalog and wrap it; raises EventValidationError when it does not fit."""
    spec, payload = CATALOG.payload_json(event)
    new_id = event_id or new_event_id()
    return Envelope(
        event_id=new_id,
        event_name=spec.name,
        schema_version=spec.version,
        tenant_id=tenant_id,
        occurred_at=occurred_at or utcnow(),
        # A fact with no cause upstream starts its own correlation chain.
        correlation_id=correlation_id or new_id,
        causation_id=causation_id,
        payload=payload,
    )


def append_envelopes(session: Session, envelopes: list[Envelope]) -> None:
    if not envelopes:
        return
    # Core insert on the table, not the ORM bulk path: events are rows to write, not objects to track.
    session.connection().execute(
        OUTBOX_TABLE.insert(),
        [
            {
                "event_id": envelope.event_id,
                "event_name": envelope.event_name,
                "schema_version": envelope.schema_version,
                "tenant_id": envelope.tenant_id,
                "occurred_at": envelope.occurred_at,
                "correlation_id": envelope.correlation_id,
                "causation_id": envelope.causation_id,
                "payload": envelope.payload,
            }
            for envelope in envelopes
        ],
    )


def append(
    session: Session,
    event: object,
    *,
    tenant_id: uuid.UUID | None,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Write one event to the outbox in the session's transaction; it becomes visible when that commits."""
    envelope = build_envelope(
        event,
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        occurred_at=occurred_at,
    )
    append_envelopes(session, [envelope])
    return envelope
