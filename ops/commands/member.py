"""`nmc member add|list|remove`: memberships by invitation, for operators; the way to a tenant's first OWNER.

``add`` makes an invitation and prints its token once: the invitee signs in (Clerk) and accepts it with
``POST /v1/invitations/accept``; their token's verified email must be the invited address."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import click
from sqlalchemy.orm import Session

from db.engine import transaction
from db.settings import Settings
from domain.events.sink import EventSink, RootSink
from domain.identity import invitations
from domain.identity import service as identity
from ops.commands.params import resolve_tenant
from ops.context import cli_sessions, echo_json, get_settings

ACCEPT_HINT = "the invitee, signed in with this address, sends the token to POST /v1/invitations/accept"


def issue_invitation(
    session: Session,
    settings: Settings,
    *,
    events: EventSink,
    tenant_id: uuid.UUID,
    email: str,
    role: str,
    mobile: str | None = None,
) -> dict[str, Any]:
    """An invitation with the configured lifetime, as JSON with the token and how to accept it."""
    issued = invitations.invite(
        session,
        events=events,
        tenant_id=tenant_id,
        email=email,
        role=role,
        mobile=mobile,
        ttl=timedelta(hours=settings.invitation_ttl_hours),
    )
    return {**issued.as_json(), "accept": ACCEPT_HINT}


@click.group()
def member() -> None:
    """Members of a tenant, by invitation (T = tenant id or E.164 number)."""


@member.command("add")
@click.argument("tenant_ref", metavar="T")
@click.option("--email", required=True, help="The invitee's email (their Clerk sign-in address).")
@click.option("--role", required=True, type=click.Choice(["OWNER", "TECH"]))
@click.option("--mobile", default=None, help="The member's mobile (E.164) for staff alerts.")
@click.pass_context
def add(ctx: click.Context, tenant_ref: str, email: str, role: str, mobile: str | None) -> None:
    """Invite EMAIL to tenant T with a role; prints the invitation and its token (shown only now) as JSON."""
    settings = get_settings(ctx)
    try:
        with cli_sessions(settings) as sessions, transaction(sessions) as session:
            found = resolve_tenant(session, tenant_ref)
            data = issue_invitation(
                session, settings, events=RootSink(session), tenant_id=found.id, email=email, role=role, mobile=mobile
            )
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    echo_json(data)


@member.command("list")
@click.argument("tenant_ref", metavar="T")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_command(ctx: click.Context, tenant_ref: str, as_json: bool) -> None:
    """Members of tenant T and its open invitations."""
    settings = get_settings(ctx)
    with cli_sessions(settings) as sessions, transaction(sessions) as session:
        found = resolve_tenant(session, tenant_ref)
        members = identity.list_members(session, found.id)
        pending = invitations.list_open(session, found.id)
    if as_json:
        echo_json({"members": [m.as_json() for m in members], "invitations": [i.as_json() for i in pending]})
        return
    if not members and not pending:
        click.echo("no members and no invitations")
    for m in members:
        click.echo(f"member   {m.role:<5}  {m.email or '-'}  {m.user_id}")
    for i in pending:
        click.echo(f"invited  {i.role:<5}  {i.email}  {i.status} until {i.expires_at:%Y-%m-%d %H:%M} UTC  {i.id}")


@member.command("remove")
@click.argument("tenant_ref", metavar="T")
@click.argument("email", metavar="E")
@click.pass_context
def remove(ctx: click.Context, tenant_ref: str, email: str) -> None:
    """Remove the member invited at E from tenant T (never the last OWNER) and revoke open invitations to E."""
    settings = get_settings(ctx)
    try:
        with cli_sessions(settings) as sessions, transaction(sessions) as session:
            found = resolve_tenant(session, tenant_ref)
            address = invitations.normalise_email(email)
            user_id = identity.member_for_email(session, found.id, address)
            events = RootSink(session)  # one command, one chain
            if user_id is not None:
                identity.remove_member(session, tenant_id=found.id, user_id=user_id, events=events)
            revoked = invitations.revoke_for_email(session, tenant_id=found.id, email=address, events=events)
            if user_id is None and not revoked:
                raise identity.NotFound(f"no member or open invitation {address} in tenant {found.id}")
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    echo_json(
        {
            "tenant_id": str(found.id),
            "email": address,
            "removed_user_id": str(user_id) if user_id else None,
            "revoked_invitations": [str(ident) for ident in revoked],
        }
    )
