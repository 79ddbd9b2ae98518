"""The one write an accepted webhook makes: its ``webhook_events`` row and its outbox event(s), in ONE transaction.

``INSERT … ON CONFLICT DO NOTHING`` on (provider, provider_ref) is the dedupe: of any number of concurrent copies
exactly one inserts; the others find the row (waiting for its commit if needed) and write nothing. If the
transaction fails, neither the row nor the events exist, so the provider's retry starts from scratch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Boolean, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.events.catalog import EventValidationError
from domain.events.outbox import append_envelopes, build_envelope
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


# One round trip decides everything: the route (when asked), and whether this delivery is new. A number no tenant
# owns is still recorded, as ``unroutable``, so a retry of it is a duplicate too.
_ROUTE_AND_RECORD = text(
    """
    WITH route AS (
        SELECT p.tenant_id, t.forward_to, t.ring_timeout_seconds
        FROM id_phone_numbers AS p JOIN id_tenants AS t ON t.id = p.tenant_id
        WHERE p.e164 = :number
    ), hook AS (
        INSERT INTO webhook_events (id, provider, provider_ref, kind, tenant_id, outcome, payload)
        SELECT :id, :provider, :provider_ref, :kind, route.tenant_id,
               CASE WHEN :routed AND route.tenant_id IS NULL THEN 'unroutable' ELSE :outcome END, :payload
        FROM (SELECT 1) AS one LEFT JOIN route ON true
        ON CONFLICT (provider, provider_ref) DO NOTHING
        RETURNING id
    )
    SELECT (SELECT id FROM hook) AS inserted, route.tenant_id, route.forward_to, route.ring_timeout_seconds
    FROM (SELECT 1) AS one LEFT JOIN route ON true
    """
).bindparams(bindparam("payload", type_=JSONB), bindparam("routed", type_=Boolean))


def record(
    sessions: sessionmaker[Session],
    delivery: Delivery,
    *,
    number: str | None,
    events: Sequence[object] | None,
    correlation_id: uuid.UUID,
    routed: bool = True,
) -> tuple[Outcome, Route | None]:
    """Route by ``number`` (when ``routed``), then write the row and ``events`` atomically.

    ``events`` are what a routed delivery means (None: nothing, recorded as ``ignored``); an unroutable delivery
    writes no events. The envelopes get the tenant found here and the request's correlation id.
    """
    outcome: Outcome = "ignored" if events is None else "accepted"
    try:
        # Validated before any database work; the tenant is filled in once the route is known.
        envelopes = [build_envelope(event, tenant_id=None, correlation_id=correlation_id) for event in events or ()]
    except EventValidationError as error:
        raise malformed(str(error)) from None
    with transaction(sessions) as session:
        row = session.execute(
            _ROUTE_AND_RECORD,
            {
                "number": number if routed else None,
                "id": uuid.uuid4(),
                "provider": delivery.provider,
                "provider_ref": delivery.provider_ref,
                "kind": delivery.kind,
                "routed": routed,
                "outcome": outcome,
                "payload": delivery.payload,
            },
        ).one()
        route = (
            None
            if row.tenant_id is None
            else Route(row.tenant_id, number or "", row.forward_to, row.ring_timeout_seconds)
        )
        if row.inserted is None:
            return "duplicate", route
        if routed and route is None:
            return "unroutable", route
        if envelopes:
            append_envelopes(session, [replace(envelope, tenant_id=row.tenant_id) for envelope in envelopes])
        return outcome, route
