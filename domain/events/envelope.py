"""The Event Envelope, exactly as docs/glossary.md defines it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A provider callback about something we sent (Twilio's status callback URL) carries the chain of what sent it in
# this query parameter, so the report the ingress records joins that chain.
CORRELATION_PARAM = "correlation"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_name: str
    schema_version: int
    tenant_id: uuid.UUID | None
    occurred_at: datetime
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    payload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "event_name": self.event_name,
            "schema_version": self.schema_version,
            "tenant_id": None if self.tenant_id is None else str(self.tenant_id),
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": str(self.correlation_id),
            "causation_id": None if self.causation_id is None else str(self.causation_id),
            "payload": self.payload,
        }


ENVELOPE_FIELDS = (
    "event_id",
    "event_name",
    "schema_version",
    "tenant_id",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "payload",
)
