"""Tenants as operators make them, as JSON for the CLI and the harness; the use cases are the composition layer's
(``domain/composition/onboarding.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.settings import Settings
from domain.composition.onboarding import (
    DEMO_FORWARD_TO,
    DEMO_NAME,
    DEMO_NUMBER,
    DEMO_OWNER_MOBILE,
    DEMO_TIMEZONE,
    OnboardedTenant,
    onboard_tenant,
    seed_demo_tenant,
)
from domain.events.sink import RootSink

__all__ = [
    "DEMO_FORWARD_TO",
    "DEMO_NAME",
    "DEMO_NUMBER",
    "DEMO_OWNER_MOBILE",
    "DEMO_TIMEZONE",
    "create_tenant_with_campaign",
    "seed_demo",
]

CHANGED_BY = "operator:cli"


def _json(onboarded: OnboardedTenant) -> dict[str, Any]:
    return {**onboarded.tenant.as_json(), "campaign": onboarded.campaign, "plan": onboarded.plan}


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
    onboarded = onboard_tenant(
        session,
        events=RootSink(session),  # one command, one chain: TenantCreated and the campaign's status change
        name=name,
        number=number,
        forward_to=forward_to,
        timezone=timezone,
        campaign=campaign,
        plan=plan,
        changed_by=CHANGED_BY,
        owner_mobile=owner_mobile,
        clerk_org_id=clerk_org_id,
    )
    return _json(onboarded)


def seed_demo(session: Session, settings: Settings) -> dict[str, Any]:
    """The demo tenant with its catalog, resources and working hours, as JSON. Idempotent."""
    demo = seed_demo_tenant(session, events=RootSink(session), changed_by=CHANGED_BY)
    return {
        **_json(demo.onboarded),
        "service_items": [{"id": str(item.id), "name": item.name} for item in demo.service_items],
        "resources": [{"id": str(resource.id), "name": resource.name} for resource in demo.resources],
    }
