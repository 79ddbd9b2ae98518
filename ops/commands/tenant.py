"""`nmc tenant create|seed-demo`: tenants from the command line, printed as JSON."""

from __future__ import annotations

import uuid
from typing import Any

import click
from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory, transaction
from db.settings import Settings
from domain.catalog.demo import seed_demo_catalog
from domain.compliance import service as compliance
from domain.events.sink import RootSink
from domain.identity import service as identity
from domain.scheduling.demo import seed_demo_schedule
from ops.cli import echo_json, get_settings
from ops.commands.member import issue_invitation

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
    """The demo tenant (approved campaign, pro plan) with its catalog, resources and working hours. Idempotent."""
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
    items = seed_demo_catalog(session, tenant_id=record.id)
    resources = seed_demo_schedule(
        session, tenant_id=record.id, timezone=record.timezone, service_item_ids=[item.id for item in items]
    )
    return {
        **tenant,
        "service_items": [{"id": str(item.id), "name": item.name} for item in items],
        "resources": [{"id": str(resource.id), "name": resource.name} for resource in resources],
    }


@click.group()
def tenant() -> None:
    """Create tenants and the demo tenant."""


@tenant.command("create")
@click.option("--name", required=True, help="Business name.")
@click.option("--number", required=True, help="The tenant's Twilio number (E.164).")
@click.option("--forward-to", required=True, help="Where calls ring first (E.164).")
@click.option("--timezone", required=True, help="IANA time zone, e.g. America/New_York.")
@click.option(
    "--campaign", type=click.Choice(["pending", "approved", "rejected"]), default="pending", show_default=True
)
@click.option("--plan", default="starter", show_default=True, help="Plan code from id_plans (starter, pro).")
@click.option("--owner-mobile", default=None, help="The owner's mobile (E.164) for missed-call and takeover alerts.")
@click.option("--owner-email", default=None, help="Invite this address as the first OWNER (prints the token).")
@click.option("--clerk-org-id", default=None, help="The Clerk organization (org_id claim) whose tokens act for it.")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    number: str,
    forward_to: str,
    timezone: str,
    campaign: str,
    plan: str,
    owner_mobile: str | None,
    owner_email: str | None,
    clerk_org_id: str | None,
) -> None:
    """Create a tenant with its number, campaign and plan (and its first OWNER's invitation); prints it as JSON."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-cli")
    try:
        with transaction(make_session_factory(engine)) as session:
            record = create_tenant_with_campaign(
                session,
                name=name,
                number=number,
                forward_to=forward_to,
                timezone=timezone,
                campaign=campaign,
                plan=plan,
                owner_mobile=owner_mobile,
                clerk_org_id=clerk_org_id,
            )
            if owner_email is not None:
                # In the same transaction: a tenant never exists without the way to its first OWNER.
                record["owner_invitation"] = issue_invitation(
                    session,
                    settings,
                    tenant_id=uuid.UUID(record["id"]),
                    email=owner_email,
                    role="OWNER",
                    mobile=owner_mobile,
                )
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    finally:
        engine.dispose()
    echo_json(record)


@tenant.command("seed-demo")
@click.pass_context
def seed_demo_command(ctx: click.Context) -> None:
    """A demo tenant with catalog, resources and working hours; prints it as JSON."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-cli")
    try:
        with transaction(make_session_factory(engine)) as session:
            record = seed_demo(session, settings)
    finally:
        engine.dispose()
    echo_json(record)
