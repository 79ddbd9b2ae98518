"""A realistic plumbing/HVAC catalog for the demo tenant (``nmc tenant seed-demo``). Idempotent by item name."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from domain.catalog.service import ServiceItemRecord, create_service_item, list_service_items
from domain.events.sink import EventSink

# (name, duration minutes, price cents, aliases, description)
DEMO_CATALOG: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    (
        "Drain cleaning",
        60,
        14900,
        ("clogged drain", "slow drain", "drain clog", "blocked drain", "backed up sink", "clogged toilet"),
        "Clear a clogged or slow kitchen, bath or floor drain.",
    ),
    (
        "Water heater repair",
        120,
        28900,
        ("no hot water", "water heater", "hot water heater", "water heater leaking", "pilot light"),
        "Diagnose and repair a gas or electric water heater.",
    ),
    (
        "Leak repair",
        90,
        17900,
        ("leaking pipe", "pipe leak", "dripping faucet", "leaky faucet", "water leak", "leak under sink"),
        "Find and fix a leaking pipe, faucet or fitting.",
    ),
    (
        "AC tune-up",
        60,
        12900,
        ("ac not cooling", "air conditioning", "ac maintenance", "air conditioner", "ac service", "a/c"),
        "Seasonal air conditioner inspection, cleaning and tune-up.",
    ),
    (
        "Emergency call-out",
        60,
        24900,
        ("emergency", "burst pipe", "flooding", "urgent", "sewage backup", "no water"),
        "Same-day emergency visit; the first hour is included.",
    ),
)


def seed_demo_catalog(
    session: Session, *, tenant_id: uuid.UUID, events: EventSink, now: datetime | None = None
) -> list[ServiceItemRecord]:
    """Create the demo items the tenant does not have yet; return all of them (in catalog order)."""
    existing = {item.name: item for item in list_service_items(session, tenant_id=tenant_id)}
    items: list[ServiceItemRecord] = []
    for name, duration, price, aliases, description in DEMO_CATALOG:
        item = existing.get(name) or create_service_item(
            session,
            tenant_id=tenant_id,
            name=name,
            duration_minutes=duration,
            price_cents=price,
            currency="USD",
            aliases=aliases,
            description=description,
            now=now,
            events=events,
        )
        items.append(item)
    return items
