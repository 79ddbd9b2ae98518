from __future__ import annotations

import click

from db.migrate import current_revision, ensure_database, upgrade
from ops.context import get_settings


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply migrations (creates the database if missing; idempotent)."""
    settings = get_settings(ctx)
    # A database that cannot be reached is reported in one line by the CLI (without the URL's password).
    created = ensure_database(settings)
    before = current_revision(settings)
    upgrade(settings)
    after = current_revision(settings)
    if created:
        click.echo(f"created database {settings.database_name}")
    click.echo(f"schema at {after}" + ("" if before != after else " (already up to date)"))
