"""`nmc campaign set-status` and `nmc campaign link`: the operator's side of 10DLC.

``set-status`` records the carrier's verdict by hand (the platform operator's override); ``link`` names the Twilio
messaging service (and A2P campaign) that is the tenant's, so the scheduler's poll reads the verdict from Twilio.
A tenant can do neither: the API refuses a status from them.
"""

from __future__ import annotations

import re

import click
from sqlalchemy.exc import IntegrityError

from db.engine import make_engine, make_session_factory, transaction
from domain.compliance import registration
from domain.compliance import service as compliance
from domain.compliance.sids import A2P_CAMPAIGN_SID_PATTERN, MESSAGING_SERVICE_SID_PATTERN
from domain.events.sink import RootSink
from ops.commands.params import TENANT_HELP, resolve_tenant
from ops.context import echo_json, get_settings


@click.group()
def campaign() -> None:
    """10DLC campaign status (only approved lets SMS leave)."""


@campaign.command("set-status")
@click.option("--tenant", "tenant_ref", required=True, help=TENANT_HELP)
@click.option("--reason", default=None, help="Why (e.g. the carrier's rejection reason).")
@click.argument("status", type=click.Choice(["approved", "pending", "rejected"]))
@click.pass_context
def set_status(ctx: click.Context, tenant_ref: str, reason: str | None, status: str) -> None:
    """Set a tenant's campaign status; prints the previous and current status as JSON."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-cli")
    try:
        with transaction(make_session_factory(engine)) as session:
            found = resolve_tenant(session, tenant_ref)
            previous, current = compliance.set_campaign_status(
                session,
                tenant_id=found.id,
                status=status,
                changed_by="operator:cli",
                reason=reason,
                events=RootSink(session),
            )
    finally:
        engine.dispose()
    echo_json({"tenant_id": str(found.id), "previous_status": previous, "status": current})


def _sid(pattern: str, what: str) -> click.types.FuncParamType:
    def convert(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise click.BadParameter(f"{value!r} is not a {what}")
        return value

    convert.__name__ = what
    return click.types.FuncParamType(convert)


@campaign.command("link")
@click.option("--tenant", "tenant_ref", required=True, help=TENANT_HELP)
@click.option(
    "--messaging-service",
    "messaging_service_sid",
    required=True,
    type=_sid(MESSAGING_SERVICE_SID_PATTERN, "Messaging Service SID (MG + 32 hex)"),
    help="The tenant's Twilio Messaging Service SID (MG...).",
)
@click.option(
    "--campaign",
    "campaign_sid",
    default=None,
    type=_sid(A2P_CAMPAIGN_SID_PATTERN, "US A2P campaign SID (QE + 32 hex)"),
    help="Its US A2P campaign SID (QE...); found by listing the service when omitted.",
)
@click.pass_context
def link(ctx: click.Context, tenant_ref: str, messaging_service_sid: str, campaign_sid: str | None) -> None:
    """Link a tenant's campaign to Twilio so the scheduler polls its 10DLC status; prints the link as JSON."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-cli")
    try:
        with transaction(make_session_factory(engine)) as session:
            found = resolve_tenant(session, tenant_ref)
            registration.link_provider_campaign(
                session, tenant_id=found.id, messaging_service_sid=messaging_service_sid, campaign_sid=campaign_sid
            )
            status = compliance.compliance_status(session, tenant_id=found.id)
    except IntegrityError:
        raise click.ClickException("that messaging service or campaign is already linked to another tenant") from None
    finally:
        engine.dispose()
    echo_json(
        {
            "tenant_id": str(found.id),
            "messaging_service_sid": messaging_service_sid,
            "campaign_sid": campaign_sid,
            "status": status.campaign_status,
        }
    )
