"""The one write an accepted webhook makes: its ``webhook_events`` row and its outbox event(s), in ONE transaction.

``INSERT … ON CONFLICT DO NOTHING`` on (provider, provider_ref) is the dedupe: of any number of concurrent copies
exactly one inserts; the others find the row (waiting for its commit if needed) and write nothing. If the
transaction fails, neither the row nor the events exist, so the provider's retry starts from scratch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import WebhookEvent
from domain.events.catalog import EventValidationError
from domain.events.outbox import append_envelopes, build_envelope
from domain.identity.models import PhoneNumber, Tenant
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


# Given the route (None when no tenant owns the number), the events to write, or None to record it as ignored.
EventsFor = Callable[[Route | None], Sequence[object] | None]


def find_route(session: Session, number: str | None) -> Route | None:
    if number is None:
        return None
    row = session.execute(
        select(PhoneNumber.tenant_id, Tenant.forward_to, Tenant.ring_timeout_seconds)
        .join(Tenant, Tenant.id == PhoneNumber.tenant_id)
        .where(PhoneNumber.e164 == number)
    ).one_or_none()
    if row is None:
        return None
    return Route(row.tenant_id, number, row.forward_to, row.ring_timeout_seconds)


def record(
    sessions: sessionmaker[Session],
    delivery: Delivery,
    *,
    number: str | None,
    events_for: EventsFor,
    correlation_id: uuid.UUID,
    routed: bool = True,
) -> tuple[Outcome, Route | None]:
    """Route by ``number`` (when ``routed``), then write the row and the events atomically.

    Unroutable deliveries are stored too (outcome ``unroutable``) so a retry of one is also a duplicate.
    """
    with transaction(sessions) as session:
        route = find_route(session, number) if routed else None
        events = events_for(route)
        if routed and route is None:
            outcome: Outcome = "unroutable"
        elif events is None:
            outcome = "ignored"
        else:
            outcome = "accepted"
        tenant_id = route.tenant_id if route else None
        try:
            envelopes = [
                build_envelope(event, tenant_id=tenant_id, correlation_id=correlation_id) for event in events or ()
            ]
        except EventValidationError as error:
            raise malformed(str(error)) from None
        inserted = session.execute(
            insert(WebhookEvent)
            .values(
                id=uuid.uuid4(),
                provider=delivery.provider,
                provider_ref=delivery.provider_ref,
                kind=delivery.kind,
                tenant_id=tenant_id,
                outcome=outcome,
                payload=delivery.payload,
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_ref"])
            .returning(WebhookEvent.id)
        ).scalar_one_or_none()
        if inserted is None:
            return "duplicate", route
        if outcome == "accepted":
            append_envelopes(session, envelopes)
        return outcome, route
