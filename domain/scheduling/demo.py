"""A realistic demo schedule (``nmc tenant seed-demo``): two technicians, Mon-Fri 8-17 and Saturday 8-12
in the tenant's zone (America/New_York by default). Idempotent by resource name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import time

from sqlalchemy.orm import Session

from domain.scheduling.availability import Shift
from domain.scheduling.records import ResourceRecord
from domain.scheduling.service import create_resource, list_resources, set_working_hours

DEMO_RESOURCES = ("Mike (lead plumber)", "Sarah (HVAC & plumbing)")


def demo_shifts() -> list[Shift]:
    return [*(Shift(day, time(8), time(17)) for day in range(5)), Shift(5, time(8), time(12))]


def seed_demo_schedule(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    timezone: str = "America/New_York",
    service_item_ids: Iterable[uuid.UUID] = (),
) -> list[ResourceRecord]:
    """Two resources with working hours; ``service_item_ids`` (from the catalog) are what they can do (all if
    empty). Existing resources of the same name are returned as they are."""
    existing = {resource.name: resource.id for resource in list_resources(session, tenant_id=tenant_id)}
    services = list(service_item_ids)
    ids: list[uuid.UUID] = []
    for name in DEMO_RESOURCES:
        resource_id = existing.get(name)
        if resource_id is None:
            resource_id = create_resource(
                session,
                tenant_id=tenant_id,
                name=name,
                timezone=timezone,
                buffer_minutes=15,
                min_lead_minutes=60,
                slot_step_minutes=30,
                service_item_ids=services,
            ).id
            set_working_hours(session, tenant_id=tenant_id, resource_id=resource_id, shifts=demo_shifts())
        ids.append(resource_id)
    # Read back after the hours are set, so a new resource's record carries them like an existing one's.
    described = {resource.id: resource for resource in list_resources(session, tenant_id=tenant_id)}
    return [described[resource_id] for resource_id in ids]
