"""`nmc retention run [--dry-run]`: the retention rules (also run daily by the scheduler)."""

from __future__ import annotations

import click

from db.engine import make_engine, make_session_factory
from db.retention import DEFAULT_BATCH_SIZE, run_retention
from ops.context import echo_json, get_settings


@click.group()
def retention() -> None:
    """Data retention: message bodies 180 days, metadata 13 months, webhook dedupe 90 days, outbox 30 days."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what each rule would purge or delete.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH_SIZE, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def run_command(ctx: click.Context, dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Apply the retention rules in small batches (short transactions, SKIP LOCKED)."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-retention")
    try:
        results = run_retention(make_session_factory(engine), dry_run=dry_run, batch_size=batch_size)
    finally:
        engine.dispose()
    if as_json:
        echo_json({"dry_run": dry_run, "rules": [result.to_json() for result in results]})
        return
    verb = "would affect" if dry_run else "affected"
    for result in results:
        click.echo(f"{result.name:<22} {verb} {result.rows:>8} rows  (before {result.cutoff:%Y-%m-%d %H:%M} UTC)")
