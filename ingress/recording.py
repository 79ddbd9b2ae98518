"""The one write an accepted webhook makes: its ``webhook_events`` row and its outbox event(s), in ONE transaction.

``INSERT … ON CONFLICT DO NOTHING`` on (provider, provider_ref) is the dedupe: of any number of concurrent copies
exactly one inserts; the others find the row (waiting for its commit if needed) and write nothing. If the
transaction fails, neither the row nor the events exist, so the provider's retry starts from scratch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from db.engine import execute_autocommitted
from domain.events.catalog import EventValidationError
from domain.events.envelope import Envelope
from domain.events.outbox import build_envelope
from ingress.errors import malformed

Outcome = Literal["accepted", "duplicate", "unroutable", "ignored"]


@dataclass(frozen=True)
class Route:
    """Where a call or message to one of our numbers belongs."""

    tenant_id: uuid.UUID
    number: str
    forward_to: str
    ring_timeout_seconds: int


@dataclass(frozen=True)
class Delivery:
    provider: str
    provider_ref: str
    kind: str
    payload: dict[str, Any]


# One statement, so one round trip and its own transaction: the route (when asked), the dedupe row and the events.
# A number no tenant owns is still recorded, as ``unroutable`` (so a retry of it is a duplicate too), with no events;
# a duplicate inserts no row and so no events. Either every row is written or none is.
_ROUTE_AND_RECORD = """
    WITH route AS (
        SELECT p.tenant_id, t.forward_to, t.ring_timeout_seconds
        FROM id_phone_numbers AS p JOIN id_tenants AS t ON t.id = p.tenant_id
        WHERE p.e164 = %(number)s
    ), hook AS (
        INSERT INTO webhook_events (id, provider, provider_ref, kind, tenant_id, outcome, payload)
        SELECT %(id)s, %(provider)s, %(provider_ref)s, %(kind)s, route.tenant_id,
               CASE WHEN %(routed)s AND route.tenant_id IS NULL THEN 'unroutable' ELSE %(outcome)s END, %(payload)s
        FROM (SELECT 1) AS one LEFT JOIN route ON true
        ON CONFLICT (provider, provider_ref) DO NOTHING
        RETURNING id, tenant_id, outcome
    ), events AS (
        INSERT INTO outbox_events
            (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, causation_id, payload)
        SELECT e.event_id, e.event_name, e.schema_version, hook.tenant_id, e.occurred_at, e.correlation_id,
               e.causation_id, e.payload
        FROM hook, jsonb_to_recordset(%(events)s) AS e(
            event_id uuid, event_name text, schema_version int, occurred_at timestamptz, correlation_id uuid,
            causation_id uuid, payload jsonb, position int)
        WHERE hook.outcome <> 'unroutable'
        ORDER BY e.position
    )
    SELECT (SELECT id FROM hook) AS inserted, route.tenant_id, route.forward_to, route.ring_timeout_seconds
    FROM (SELECT 1) AS one LEFT JOIN route ON true
"""


class WebhookRecorder:
    """Writes accepted webhooks on a pooled connection of ``engine``, in plain psycopg.

    This is the one write on the webhook hot path. Through the ORM it took four round trips (BEGIN, statement,
    events, COMMIT) and most of a request's CPU; as a single autocommitted statement it is one round trip.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        delivery: Delivery,
        *,
        number: str | None,
        events: Sequence[object] | None,
        correlation_id: uuid.UUID,
        routed: bool = True,
    ) -> tuple[Outcome, Route | None]:
        """Route by ``number`` (when ``routed``), then write the row and ``events`` atomically.

        ``events`` are what a routed delivery means (None: nothing, recorded as ``ignored``); an unroutable
        delivery writes no events. The envelopes get the tenant found here and the request's correlation id.
        """
        outcome: Outcome = "ignored" if events is None else "accepted"
        try:
            # Validated before any database work; the tenant is filled in by the statement once the route is known.
            envelopes = [build_envelope(event, tenant_id=None, correlation_id=correlation_id) for event in events or ()]
        except EventValidationError as error:
            raise malformed(str(error)) from None
        params = {
            "number": number if routed else None,
            "id": uuid.uuid4(),
            "provider": delivery.provider,
            "provider_ref": delivery.provider_ref,
            "kind": delivery.kind,
            "routed": routed,
            "outcome": outcome,
            "payload": Jsonb(delivery.payload),
            # One JSON document rather than a typed array per column: psycopg dumps it in C, arrays in Python.
            "events": Jsonb([_event_record(envelope, position) for position, envelope in enumerate(envelopes)]),
        }
        (row,) = execute_autocommitted(self._engine, _ROUTE_AND_RECORD, params)
        route = (
            None
            if row.tenant_id is None
            else Route(row.tenant_id, number or "", row.forward_to, row.ring_timeout_seconds)
        )
        if row.inserted is None:
            return "duplicate", route
        if routed and route is None:
            return "unroutable", route
        return outcome, route


def _event_record(envelope: Envelope, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "event_id": str(envelope.event_id),
        "event_name": envelope.event_name,
        "schema_version": envelope.schema_version,
        "occurred_at": envelope.occurred_at.isoformat(),
        "correlation_id": str(envelope.correlation_id),
        "causation_id": None if envelope.causation_id is None else str(envelope.causation_id),
        "payload": envelope.payload,
    }
