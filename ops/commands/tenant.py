"""`nmc tenant create|seed-demo|list|show|update`: tenants from the command line, printed as JSON."""

from __future__ import annotations

import dataclasses
import uuid

import click

from db.engine import make_engine, make_session_factory, transaction
from domain.composition.tenant_overview import tenant_directory, tenant_overview
from domain.events.sink import RootSink
from domain.identity import service as identity
from ops.commands.member import issue_invitation
from ops.commands.params import resolve_tenant
from ops.context import cli_sessions, echo_json, get_settings
from ops.tenants import create_tenant_with_campaign, seed_demo


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
                    events=RootSink(session),
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


@tenant.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True, help="At most this many.")
@click.pass_context
def list_command(ctx: click.Context, limit: int) -> None:
    """Tenants, newest first: number, time zone, plan, subscription and 10DLC campaign status; a JSON array."""
    settings = get_settings(ctx)
    with cli_sessions(settings) as sessions, sessions() as session:
        found = tenant_directory(session, limit=limit)
    echo_json([summary.as_json() for summary in found])


@tenant.command("show")
@click.argument("tenant_ref", metavar="T")
@click.pass_context
def show(ctx: click.Context, tenant_ref: str) -> None:
    """Tenant T (id or E.164 number): its texts and numbers, plan and gates, 10DLC campaign and members; as JSON."""
    settings = get_settings(ctx)
    with cli_sessions(settings) as sessions, sessions() as session:
        found = resolve_tenant(session, tenant_ref)
        overview = tenant_overview(session, found.id)
    if overview is None:
        raise click.ClickException(f"no tenant {tenant_ref}")
    echo_json(overview.as_json())


@tenant.command("update")
@click.argument("tenant_ref", metavar="T")
@click.option("--first-message", default=None, help="The first SMS after a missed call ({business} = the name).")
@click.option("--after-hours", default=None, help="The first SMS when the business is closed.")
@click.option("--help-text", default=None, help="The answer to a caller's HELP.")
@click.option("--forward-to", default=None, help="Where calls ring first (E.164).")
@click.option("--owner-mobile", default=None, help="The owner's mobile for alerts (E.164); 'none' stops them.")
@click.option(
    "--spanish", default=None, help="on: the AI answers Spanish-speaking callers in Spanish; off: they go to a person."
)
@click.option(
    "--callback-grace",
    default=None,
    metavar="SECONDS",
    help="Seconds (0-120) the first SMS waits for a callback (an answered re-call, a staff call via Twilio); 0 = none.",
)
@click.pass_context
def update(
    ctx: click.Context,
    tenant_ref: str,
    first_message: str | None,
    after_hours: str | None,
    help_text: str | None,
    forward_to: str | None,
    owner_mobile: str | None,
    spanish: str | None,
    callback_grace: str | None,
) -> None:
    """Change tenant T's texts, numbers, Spanish replies and callback grace period (T = id or E.164 number); prints
    them as JSON."""
    settings = get_settings(ctx)
    clear = owner_mobile is not None and owner_mobile.strip().lower() == "none"
    spanish_value = None if spanish is None else spanish.strip().lower()
    if spanish_value not in (None, "on", "off"):
        raise click.ClickException(f"--spanish is on or off, not {spanish!r}")
    try:
        with cli_sessions(settings) as sessions, transaction(sessions) as session:
            found = resolve_tenant(session, tenant_ref)
            changed = identity.update_tenant_messaging(
                session,
                tenant_id=found.id,
                first_message=first_message,
                after_hours=after_hours,
                help_text=help_text,
                forward_to=forward_to,
                owner_mobile=None if clear else owner_mobile,
                clear_owner_mobile=clear,
                spanish_replies=None if spanish_value is None else spanish_value == "on",
            )
            if callback_grace is not None:
                grace = identity.update_callback_grace(session, tenant_id=found.id, seconds=callback_grace)
            else:
                grace = identity.callback_grace_seconds(session, found.id)
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    echo_json({"id": str(found.id), **dataclasses.asdict(changed), "callback_grace_seconds": grace})


@tenant.command("lifecycle")
@click.argument("tenant_ref", metavar="T")
@click.option(
    "--reminder-offsets", default=None, help="Minutes before an appointment, comma-separated (e.g. 1440,120)."
)
@click.option("--follow-up-delay", default=None, help="Minutes after an unanswered first SMS, or 'off'.")
@click.option("--first-sms-quiet-hours", type=click.Choice(["send", "defer"]), default=None,
              help="A first SMS in quiet hours: send at once (default) or defer to the allowed hours.")  # fmt: skip
@click.pass_context
def lifecycle_settings(
    ctx: click.Context,
    tenant_ref: str,
    reminder_offsets: str | None,
    follow_up_delay: str | None,
    first_sms_quiet_hours: str | None,
) -> None:
    """Show or change tenant T's reminder offsets, follow-up delay and first-SMS quiet-hours choice, as JSON."""
    from domain.identity import lifecycle

    settings = get_settings(ctx)
    try:
        offsets = (
            None if reminder_offsets is None else [int(part) for part in reminder_offsets.split(",") if part.strip()]
        )
        delay: object = ...
        if follow_up_delay is not None:
            delay = None if follow_up_delay.strip().lower() == "off" else int(follow_up_delay)
    except ValueError:
        raise click.ClickException("--reminder-offsets and --follow-up-delay take whole minutes") from None
    try:
        with cli_sessions(settings) as sessions, transaction(sessions) as session:
            found = resolve_tenant(session, tenant_ref)
            changed = lifecycle.update_lifecycle_settings(
                session,
                tenant_id=found.id,
                reminder_offsets_minutes=offsets,
                follow_up_delay_minutes=delay,
                first_sms_quiet_hours=first_sms_quiet_hours,
            )
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    echo_json({"id": str(found.id), **dataclasses.asdict(changed)})
