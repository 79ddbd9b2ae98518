"""`nmc report`: a tenant's daily figures from the reporting projections (and their rebuild from events)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import click

from db.engine import make_engine, make_session_factory, transaction
from domain.reporting import projections, queries
from ops.commands.params import TENANT_HELP, resolve_tenant
from ops.context import echo_json, get_settings


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


@click.command()
@click.option("--tenant", "tenant", help=f"{TENANT_HELP} Required unless --rebuild.")
@click.option("--days", type=click.IntRange(1, queries.MAX_DAYS), default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the days and totals as JSON.")
@click.option("--rebuild", is_flag=True, help="Recompute the projections from outbox_events first.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="With --rebuild: only days from this one.")
@click.pass_context
def report(
    ctx: click.Context, tenant: str | None, days: int, as_json: bool, rebuild: bool, since: datetime | None
) -> None:
    """Per-day missed calls, conversations, first-response P50/P95, bookings, recovered revenue, opt-outs and
    takeovers for one tenant (UTC days)."""
    if tenant is None and not rebuild:
        raise click.UsageError("--tenant is required")
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-report")
    sessions = make_session_factory(engine)
    try:
        tenant_id: uuid.UUID | None = None
        if tenant is not None:
            # An unknown tenant is "no tenant X", not a table of zeros.
            with sessions() as session:
                tenant_id = resolve_tenant(session, tenant).id
        if rebuild:
            since_day: date | None = since.date() if since is not None else None
            with transaction(sessions) as session:
                counts = projections.rebuild(session, tenant_id, since=since_day)
            if tenant_id is None:
                if as_json:
                    echo_json({"rebuilt": counts})
                else:
                    click.echo(f"rebuilt {counts['days']} tenant-days and {counts['first_responses']} samples")
                return
        assert tenant_id is not None
        with sessions() as session:
            rows = queries.daily_report(session, tenant_id, days)
            total = queries.totals(session, tenant_id, days)
    finally:
        engine.dispose()
    if as_json:
        echo_json({"tenant_id": str(tenant_id), "days": [row.to_json() for row in rows], "totals": total})
        return
    header = f"{'day':<10} {'missed':>6} {'convs':>5} {'p50 ms':>7} {'p95 ms':>7} {'booked':>6} {'revenue':>11}"
    header += f" {'opt-outs':>8} {'takeovers':>9}"
    click.echo(header)
    for row in rows:
        click.echo(
            f"{row.day.isoformat():<10} {row.missed_calls:>6} {row.conversations:>5} "
            f"{_ms(row.first_response_p50_ms):>7} {_ms(row.first_response_p95_ms):>7} {row.bookings:>6} "
            f"{_money(row.recovered_revenue_cents):>11} {row.opt_outs:>8} {row.takeovers:>9}"
        )
    click.echo(
        f"{'total':<10} {total['missed_calls']:>6} {total['conversations']:>5} "
        f"{_ms(total['first_response_p50_ms']):>7} {_ms(total['first_response_p95_ms']):>7} {total['bookings']:>6} "
        f"{_money(total['recovered_revenue_cents']):>11} {total['opt_outs']:>8} {total['takeovers']:>9}"
    )
