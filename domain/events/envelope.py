"""The Event Envelope, exactly as docs/glossary.md defines it."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# A provider callback about something we sent (Twilio's status callback URL) carries the chain of what sent it in
# this query parameter, so the report the ingress records joins that chain.
CORRELATION_PARAM = "correlation"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> uuid.UUID:
    """A time-ordered id (RFC 9562 version 7: Unix milliseconds, then 74 random bits), so the outbox's indexes on
    event ids grow at their right edge instead of at random leaves of a tree as big as the history."""
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & (1 << 48) - 1) << 80 | 0x7 << 76 | (random_bits >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | random_bits & (1 << 62) - 1
    return uuid.UUID(int=value)


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
