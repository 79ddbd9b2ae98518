"""Command-line arguments shared by several commands: a tenant named by its id or by its phone number."""

from __future__ import annotations

import uuid

import click
from sqlalchemy.orm import Session

from domain.identity import service as identity
from domain.phones import to_e164

TENANT_HELP = "Tenant id (UUID) or its phone number (E.164)."


def resolve_tenant(session: Session, ref: str) -> identity.TenantRecord:
    """The tenant a `--tenant`/`T` argument names, or a one-line error naming what was given."""
    try:
        found = identity.get_tenant(session, uuid.UUID(ref))
    except ValueError:
        number = to_e164(ref)  # "(310) 555-0123" names the same tenant as +13105550123
        found = None if number is None else identity.tenant_by_number(session, number)
    if found is None:
        raise click.ClickException(f"no tenant {ref}")
    return found
