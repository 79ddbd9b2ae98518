"""`nmc soak`: a steady realistic load for a long time; memory, outbox lag and dead tuples must stay flat."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ops.context import echo_json, get_settings


@click.command()
@click.option("--minutes", default=30.0, show_default=True, type=click.FloatRange(0.5, 24 * 60))
@click.option("--rate", default=1.0, show_default=True, type=click.FloatRange(0.05, 200), help="Missed calls/s.")
@click.option("--sample-seconds", default=30.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--tenants", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--seed", default=1, show_default=True)
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"))
@click.option("--json", "as_json", is_flag=True, help="Print the whole result (with every sample) as JSON.")
@click.pass_context
def soak(
    ctx: click.Context,
    minutes: float,
    rate: float,
    sample_seconds: float,
    tenants: int,
    seed: int,
    results: Path,
    as_json: bool,
) -> None:
    """Steady load through a scratch system; judge memory, outbox lag and dead tuples; exit 1 if one grows.

    Uses the configured Postgres server for a scratch database (dropped afterwards) and a private redis-server.
    Writes a JSON + Markdown report under --results.
    """
    from ops.soak import SoakPlan, run_soak

    settings = get_settings(ctx)
    plan = SoakPlan(minutes=minutes, rate=rate, sample_seconds=sample_seconds, tenants=tenants, seed=seed)
    log_dir = Path(tempfile.mkdtemp(prefix="nmc-soak-"))
    result = run_soak(
        settings, plan, log_dir=log_dir, results_dir=results, progress=lambda line: click.echo(line, err=True)
    )
    if as_json:
        echo_json({**result.as_json(), "report": str(result.report_path), "logs": str(log_dir)})
    else:
        for judgement in result.judgements:
            mark = click.style("pass", fg="green") if judgement.passed else click.style("FAIL", fg="red")
            click.echo(f"{mark}  {judgement.name}: {judgement.detail}")
        click.echo(f"report: {result.report_path}  (process logs: {log_dir})")
    if not result.passed:
        failed = [judgement.name for judgement in result.judgements if not judgement.passed]
        raise click.ClickException(f"soak failed: {', '.join(failed)}")
