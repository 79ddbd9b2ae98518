"""Onboarding a tenant: identity makes the tenant (number, plan, gates), compliance its campaign; and the demo
tenant, which adds the catalog's and scheduling's demo data. The CLI, the harness and the tests all onboard here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain.catalog.demo import seed_demo_catalog
from domain.compliance import service as compliance
from domain.events.sink import EventSink
from domain.identity import service as identity
from domain.identity.demo import DEMO_OWNER_MOBILE, seed_demo_members
from domain.identity.service import TenantRecord
from domain.scheduling.demo import seed_demo_schedule

DEMO_NAME = "Ace Plumbing & HVAC"
DEMO_NUMBER = "+13105551000"
DEMO_FORWARD_TO = "+13105551001"
DEMO_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class OnboardedTenant:
    tenant: TenantRecord
    campaign: str
    plan: str | None


@dataclass(frozen=True)
class Named:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class DemoTenant:
    onboarded: OnboardedTenant
    service_items: tuple[Named, ...]
    resources: tuple[Named, ...]


def onboard_tenant(
    session: Session,
    *,
    events: EventSink,
    name: str,
    number: str,
    forward_to: str,
    timezone: str,
    campaign: str,
    plan: str,
    changed_by: str,
    owner_mobile: str | None = None,
    clerk_org_id: str | None = None,
) -> OnboardedTenant:
    """⇒ ``TenantCreated``, and ``CampaignStatusChanged`` unless the campaign starts ``pending``; one chain."""
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
            session, tenant_id=tenant.id, status=campaign, changed_by=changed_by, events=events
        )
    return OnboardedTenant(tenant, campaign, plan)


def seed_demo_tenant(session: Session, *, events: EventSink, changed_by: str) -> DemoTenant:
    """The demo tenant (approved campaign, pro plan) with its catalog, resources, working hours and staff (an OWNER
    and a TECH, see ``domain.identity.demo``). Idempotent."""
    existing = identity.tenant_by_number(session, DEMO_NUMBER)
    if existing is None:
        onboarded = onboard_tenant(
            session,
            events=events,
            name=DEMO_NAME,
            number=DEMO_NUMBER,
            forward_to=DEMO_FORWARD_TO,
            owner_mobile=DEMO_OWNER_MOBILE,
            timezone=DEMO_TIMEZONE,
            campaign="approved",
            plan="pro",
            changed_by=changed_by,
        )
    else:
        status = compliance.compliance_status(session, tenant_id=existing.id)
        gates = identity.gate_state(session, existing.id)
        onboarded = OnboardedTenant(existing, status.campaign_status, gates.plan if gates else None)
    tenant = onboarded.tenant
    seed_demo_members(session, tenant_id=tenant.id, events=events)  # who the sandbox's sign-in page signs in as
    items = seed_demo_catalog(session, tenant_id=tenant.id, events=events)
    resources = seed_demo_schedule(
        session, tenant_id=tenant.id, timezone=tenant.timezone, service_item_ids=[item.id for item in items]
    )
    return DemoTenant(
        onboarded,
        tuple(Named(item.id, item.name) for item in items),
        tuple(Named(resource.id, resource.name) for resource in resources),
    )
