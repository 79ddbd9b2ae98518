"""Tenants as operators make them: identity's tenant with compliance's campaign, and the demo tenant.

Composed here, in a module of its own below the commands, because `nmc tenant`, `nmc demo`, the chaos and soak
runs' scratch systems and the tests all make tenants the same way (the domain modules never import each other).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from db.settings import Settings
from domain.catalog.demo import seed_demo_catalog
from domain.compliance import service as compliance
from domain.events.sink import RootSink
from domain.identity import service as identity
from domain.identity.demo import seed_demo_members
from domain.scheduling.demo import seed_demo_schedule

DEMO_NAME = "Ace Plumbing & HVAC"
DEMO_NUMBER = "+13105551000"
DEMO_FORWARD_TO = "+13105551001"
DEMO_OWNER_MOBILE = "+13105551002"
DEMO_TIMEZONE = "America/New_York"


def create_tenant_with_campaign(
    session: Session,
    *,
    name: str,
    number: str,
    forward_to: str,
    timezone: str,
    campaign: str,
    plan: str,
    owner_mobile: str | None = None,
    clerk_org_id: str | None = None,
) -> dict[str, Any]:
    """Identity makes the tenant, compliance its campaign: composed here, since the modules never import each other."""
    events = RootSink(session)  # one command, one chain: TenantCreated and the campaign's status change
    tenant = identity.create_tenant(
        session,
        events=events,
        name=name,
        number=number,
        forward_to=forward_to,
        timezone=timezone,
        plan=plan,
        owner_mobile=owner_mobile,
        clerk_org_id=clerk_org_id,
    )
    compliance.ensure_campaign(session, tenant_id=tenant.id)
    if campaign != "pending":
        compliance.set_campaign_status(
            session, tenant_id=tenant.id, status=campaign, changed_by="operator:cli", events=events
        )
    return {**tenant.as_json(), "campaign": campaign, "plan": plan}


def seed_demo(session: Session, settings: Settings) -> dict[str, Any]:
    """The demo tenant (approved campaign, pro plan) with its catalog, resources, working hours and staff (an OWNER
    and a TECH, see ``domain.identity.demo``). Idempotent."""
    existing = identity.tenant_by_number(session, DEMO_NUMBER)
    if existing is None:
        tenant = create_tenant_with_campaign(
            session,
            name=DEMO_NAME,
            number=DEMO_NUMBER,
            forward_to=DEMO_FORWARD_TO,
            owner_mobile=DEMO_OWNER_MOBILE,
            timezone=DEMO_TIMEZONE,
            campaign="approved",
            plan="pro",
        )
    else:
        status = compliance.compliance_status(session, tenant_id=existing.id)
        gates = identity.gate_state(session, existing.id)
        tenant = {**existing.as_json(), "campaign": status.campaign_status, "plan": gates.plan if gates else None}
    record = identity.get_tenant(session, uuid.UUID(tenant["id"]))
    assert record is not None
    seed_demo_members(session, tenant_id=record.id)  # who the sandbox's sign-in page signs in as
    items = seed_demo_catalog(session, tenant_id=record.id)
    resources = seed_demo_schedule(
        session, tenant_id=record.id, timezone=record.timezone, service_item_ids=[item.id for item in items]
    )
    return {
        **tenant,
        "service_items": [{"id": str(item.id), "name": item.name} for item in items],
        "resources": [{"id": str(resource.id), "name": resource.name} for resource in resources],
    }
