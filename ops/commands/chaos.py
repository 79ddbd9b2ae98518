"""`nmc chaos`: missed calls and replies while processes, Redis and Postgres fail; invariants checked after."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ops.context import echo_json, get_settings


@click.command()
@click.option("--calls", default=2000, show_default=True, type=click.IntRange(10, 100_000), help="Missed calls.")
@click.option("--duration", default=300.0, show_default=True, type=click.FloatRange(5, 7200), help="Seconds of load.")
@click.option("--seed", default=1, show_default=True, help="Seeds the callers, their scripts and the fault times.")
@click.option("--tenants", default=5, show_default=True, type=click.IntRange(1, 500))
@click.option("--settle", default=180.0, show_default=True, help="Seconds allowed to drain after the load.")
@click.option("--kills", default=0, type=click.IntRange(0, 50), help="Kills of each kind (default: 1 per 1,000 calls).")
@click.option(
    "--broker",
    type=click.Choice(["redis", "rabbitmq"]),
    default=None,
    help="The Dramatiq broker [default: rabbitmq if BROKER_URL is amqp://, else redis]. Either way a private server.",
)
@click.option("--results", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"))
@click.option("--keep", is_flag=True, help="Keep the scratch database afterwards (for post-mortems).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.pass_context
def chaos(
    ctx: click.Context,
    calls: int,
    duration: float,
    seed: int,
    tenants: int,
    settle: float,
    kills: int,
    broker: str | None,
    results: Path,
    keep: bool,
    as_json: bool,
) -> None:
    """Drive missed calls and replies through a scratch system while killing its parts; exit 1 if an invariant fails.

    Uses the configured Postgres server for a scratch database (dropped afterwards) and a private redis-server on a
    free port (never the shared one); with the RabbitMQ broker, also a private RabbitMQ node, which is SIGKILLed and
    restarted mid-run. Writes a JSON + Markdown report under --results.
    """
    from ops.chaos import ChaosPlan, run_chaos

    settings = get_settings(ctx)
    plan = ChaosPlan(
        calls=calls,
        duration_seconds=duration,
        seed=seed,
        tenants=tenants,
        settle_seconds=settle,
        kills_each=kills,
        broker=broker or ("rabbitmq" if settings.broker_is_rabbitmq else "redis"),
    )
    log_dir = Path(tempfile.mkdtemp(prefix="nmc-chaos-"))
    result = run_chaos(
        settings,
        plan,
        log_dir=log_dir,
        results_dir=results,
        keep=keep,
        progress=lambda line: click.echo(line, err=True),
    )
    if as_json:
        echo_json({**result.as_json(), "report": str(result.report_path), "logs": str(log_dir)})
    else:
        for fault in result.faults:
            at = "  —  " if fault.at is None else f"{fault.at:6.2f}"
            click.echo(f"fault {at} s  {fault.kind:22} {fault.error or fault.detail}")
        for invariant in result.invariants:
            mark = click.style("pass", fg="green") if invariant.passed else click.style("FAIL", fg="red")
            click.echo(f"{mark}  {invariant.name}: {invariant.detail}")
        click.echo(f"report: {result.report_path}  (process logs: {log_dir})")
    if not result.passed:
        failed = [i.name for i in result.invariants if not i.passed] + [f.kind for f in result.faults if f.error]
        raise click.ClickException(f"chaos run failed: {', '.join(failed)}")
