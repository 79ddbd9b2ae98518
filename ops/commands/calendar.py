"""`nmc calendar link` and `nmc calendar list`: a technician's Google Calendar or Jobber account, linked with OAuth
tokens so bookings are written back to it (and its busy time mirrored). The tokens are stored encrypted
(``CALENDAR_CREDENTIALS_KEY``) and never printed; pass them on stdin (the prompt) rather than in ``ps``."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from datetime import UTC, datetime, timedelta

import click

from db.engine import transaction
from domain.scheduling import credentials
from domain.scheduling import service as scheduling
from domain.scheduling.errors import SchedulingError
from ops.commands.params import TENANT_HELP, resolve_tenant
from ops.context import cli_sessions, echo_json, get_settings


@click.group()
def calendar() -> None:
    """Technicians' external calendars that bookings are written back to."""


def _resource_id(session: object, tenant_id: uuid.UUID, ref: str) -> uuid.UUID:
    resources = scheduling.list_resources(session, tenant_id=tenant_id)  # type: ignore[arg-type]
    wanted = ref.strip().casefold()
    for resource in resources:
        if str(resource.id) == ref or resource.name.casefold() == wanted:
            return resource.id
    # "Sarah" for "Sarah (HVAC & plumbing)", when only one technician is called that.
    by_first_name = [resource for resource in resources if resource.name.split(" ")[0].casefold() == wanted]
    if len(by_first_name) == 1:
        return by_first_name[0].id
    names = ", ".join(resource.name for resource in resources) or "none"
    raise click.ClickException(f"no technician {ref} in this business (technicians: {names})")


@calendar.command("link")
@click.option("--tenant", "tenant_ref", required=True, help=TENANT_HELP)
@click.option("--resource", "resource_ref", required=True, help="The technician: id, name or first name.")
@click.option("--provider", type=click.Choice(credentials.WRITE_PROVIDERS), required=True)
@click.option(
    "--calendar",
    "external_ref",
    required=True,
    help="Google: the calendar id (e.g. sarah@acme.com); Jobber: <accountId>/<userId> of the technician.",
)
@click.option(
    "--access-token", default=None, help="The OAuth access token (else asked for on a terminal, or read from stdin)."
)
@click.option(
    "--refresh-token", default=None, help="The OAuth refresh token (kept encrypted): renews the access token in time."
)
@click.option("--expires-in", type=click.IntRange(min=1), default=None, help="Seconds the access token lasts.")
@click.option("--jobber-job", default=None, help="Jobber: the job (EncodedId) whose visits the bookings become.")
@click.pass_context
def link(
    ctx: click.Context,
    tenant_ref: str,
    resource_ref: str,
    provider: str,
    external_ref: str,
    access_token: str | None,
    refresh_token: str | None,
    expires_in: int | None,
    jobber_job: str | None,
) -> None:
    """Link (or relink) a technician's calendar with OAuth tokens; prints the link as JSON (no token in it)."""
    settings = get_settings(ctx)
    access_token = access_token if access_token is not None else _token_from_input()
    expires = None if expires_in is None else datetime.now(UTC) + timedelta(seconds=expires_in)
    try:
        with cli_sessions(settings) as sessions, transaction(sessions) as session:
            tenant = resolve_tenant(session, tenant_ref)
            linked = credentials.link_calendar(
                session,
                tenant_id=tenant.id,
                resource_id=_resource_id(session, tenant.id, resource_ref),
                provider=provider,
                external_ref=external_ref,
                access_token=access_token,
                refresh_token=refresh_token,
                token_expires_at=expires,
                jobber_job_id=jobber_job,
                box=credentials.CredentialBox(settings.credentials_key),
            )
    except SchedulingError as error:
        raise click.ClickException(str(error)) from None
    echo_json(dataclasses.asdict(linked))


def _token_from_input() -> str:
    # Off the command line, so the token stays out of the shell history and the process list.
    if sys.stdin.isatty():
        return str(click.prompt("Access token", hide_input=True))
    token = sys.stdin.read().strip()
    if not token:
        raise click.ClickException("no access token: pass --access-token, or pipe the token on stdin")
    return token


@calendar.command("list")
@click.option("--tenant", "tenant_ref", required=True, help=TENANT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@click.pass_context
def list_linked(ctx: click.Context, tenant_ref: str, as_json: bool) -> None:
    """The tenant's linked calendars, whether each still works and, if not, why."""
    settings = get_settings(ctx)
    with cli_sessions(settings) as sessions, transaction(sessions) as session:
        tenant = resolve_tenant(session, tenant_ref)
        linked = credentials.linked_calendars(session, tenant_id=tenant.id)
    if as_json:
        echo_json([dataclasses.asdict(item) for item in linked])
        return
    for item in linked:
        problem = f" ({item.problem})" if item.problem else ""
        click.echo(f"{item.calendar_id}  {item.provider:<6}  {item.external_ref}  {item.status}{problem}")
