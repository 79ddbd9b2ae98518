"""Confirm a hold at the catalog's price: the one booking use case that needs both catalog and scheduling.

The conversation's booking tools and the API's ``POST /v1/holds/{id}/confirm`` both book through here, so an
appointment always carries the price the catalog asks for the held service when it is confirmed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from domain.events.sink import EventSink
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from domain.scheduling.errors import HoldNotFound
from domain.scheduling.records import AppointmentRecord


@dataclass(frozen=True)
class Booked:
    appointment: AppointmentRecord
    service_name: str


def confirm_hold_at_catalog_price(
    session: Session,
    *,
    events: EventSink,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    now: datetime,
    customer_phone: str | None = None,
) -> Booked:
    """⇒ ``AppointmentBooked`` at the held service's current price (an item since retired still has one).

    Raises HoldNotFound, catalog's ServiceItemNotFound, SlotUnavailable (with alternatives) or another
    SchedulingError; idempotent like ``scheduling.confirm_hold``.
    """
    hold = queries.find_hold(session, tenant_id=tenant_id, hold_id=hold_id)
    if hold is None:
        raise HoldNotFound(hold_id)
    item = catalog.get_service_item(
        session, tenant_id=tenant_id, service_item_id=hold.service_item_id, active_only=False
    )
    appointment = scheduling.confirm_hold(
        session,
        events=events,
        tenant_id=tenant_id,
        hold_id=hold_id,
        price_cents=item.price_cents,
        currency=item.currency,
        now=now,
        customer_phone=customer_phone,
    )
    return Booked(appointment, item.name)
