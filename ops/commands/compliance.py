"""`nmc campaign set-status`: an operator records the carrier's 10DLC verdict for a tenant."""

from __future__ import annotations

import click

from db.engine import make_engine, make_session_factory, transaction
from domain.compliance import service as compliance
from ops.cli import echo_json, get_settings
from ops.commands.params import TENANT_HELP, resolve_tenant


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
                session, tenant_id=found.id, status=status, changed_by="operator:cli", reason=reason
            )
    finally:
        engine.dispose()
    echo_json({"tenant_id": str(found.id), "previous_status": previous, "status": current})
