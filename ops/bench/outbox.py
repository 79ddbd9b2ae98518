"""`nmc bench outbox`: commit → handler-start latency and throughput through the real dispatcher and workers.

Runs in a scratch database (``<DATABASE_URL name>_bench``) and its own Redis namespace, with real `nmc
dispatcher` and `nmc worker` processes. Steady load: events committed one per transaction at a fixed rate.
Flat out: a backlog committed in large batches as fast as possible, drained by the pipeline. Each scenario runs
with the bench handler declared ``db_only`` (a message's deliveries share one transaction, as the projections' do)
and without (one transaction per delivery, as for handlers that call out).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

import click
import redis

from db import heartbeats
from db.engine import make_session_factory
from db.settings import Settings
from domain.events.catalog import TenantCreated
from domain.events.outbox import append_envelopes, build_envelope
from ops.bench.outbox_scenarios import Scenario, await_starts, fresh_scenario, offer, summarize
from ops.context import get_settings
from ops.harness.database import drop_database, drop_namespace, scratch_database
from ops.harness.report import write_report
from ops.processes import stop_groups
from ops.stack import die_with_parent

HANDLER_MODULES = {"db-only": "ops.bench.outbox_handlers", "isolated": "ops.bench.outbox_handlers_isolated"}


class Pipeline:
    """Real `nmc dispatcher` × N and `nmc worker` processes against the scratch database."""

    def __init__(
        self, settings: Settings, dispatchers: int, worker_processes: int, worker_threads: int, handler_module: str
    ) -> None:
        env = os.environ | {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "BROKER_URL": settings.broker_url,
            "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
            "HANDLER_MODULES": handler_module,
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "console",
            # Several dispatchers run at once: each serves its metrics on a port of its own.
            "DISPATCHER_METRICS_BIND": "127.0.0.1:0",
            "WORKER_METRICS_BIND": "127.0.0.1:0",
        }
        self.dispatchers = dispatchers
        self.worker_processes = worker_processes
        self.started_at = time.time()
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "ops", "dispatcher"],
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
            for _ in range(dispatchers)
        ]
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "ops", "worker", "-p", str(worker_processes), "-t", str(worker_threads)],
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        )

    def wait_ready(self, settings: Settings, timeout: float = 90.0) -> None:
        """Until every dispatcher and every worker child has heartbeated (each does so only once it is consuming):
        on two cores, seven processes importing at once take several seconds, and a clock started earlier would
        measure their start-up, not the pipeline."""
        client = redis.Redis.from_url(settings.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for process in self.processes:
                    if process.poll() is not None:
                        raise click.ClickException(f"a pipeline process exited with {process.returncode}")
                fresh = heartbeats.alive_since(client, settings.dramatiq_namespace, self.started_at)
                if fresh["dispatcher"] >= self.dispatchers and fresh["worker-consumer"] >= self.worker_processes:
                    return
                time.sleep(0.1)
        finally:
            client.close()
        raise click.ClickException(f"the pipeline was not consuming after {timeout:.0f} s")

    def stop(self) -> None:
        stop_groups(self.processes)


def _run(settings: Settings, scenario: Scenario, worker_processes: int, worker_threads: int) -> dict[str, Any]:
    engine = fresh_scenario(settings, "outbox_events, processed_events")
    sessions = make_session_factory(engine)
    pipeline = Pipeline(
        settings, scenario.dispatchers, worker_processes, worker_threads, HANDLER_MODULES[scenario.handler_kind]
    )

    def commit(count: int) -> list[uuid.UUID]:
        envelopes = [build_envelope(_event(), tenant_id=None) for _ in range(count)]
        with sessions() as session, session.begin():
            append_envelopes(session, envelopes)
        return [envelope.event_id for envelope in envelopes]

    try:
        pipeline.wait_ready(settings)
        committed, producer_seconds = offer(scenario, commit)
        starts = await_starts(engine, scenario.events)
    finally:
        pipeline.stop()
        engine.dispose()
    return summarize(scenario, committed, starts, producer_seconds)


def _event() -> TenantCreated:
    return TenantCreated(name="bench", phone_number="+13105550100", timezone="UTC")


@click.command()
@click.option("--steady-rate", default=200.0, show_default=True, help="Offered events/s in the steady scenario.")
@click.option("--steady-seconds", default=10.0, show_default=True)
@click.option("--flat-events", default=10_000, show_default=True, help="Backlog size in the flat-out scenario.")
@click.option("--dispatchers", default="1,4", show_default=True, help="Dispatcher counts to compare.")
@click.option(
    "--handlers",
    default="db-only,isolated",
    show_default=True,
    help="Bench handler kinds to compare: db-only (a message's deliveries share a transaction) and isolated.",
)
@click.option("--worker-processes", default=2, show_default=True)
@click.option("--worker-threads", default=8, show_default=True)
@click.option(
    "--compare",
    type=click.Choice(["procrastinate"]),
    default=None,
    help="Run procrastinate (the bench-compare extra) beside the outbox, interleaved, on the same scratch database, "
    "and print the ratios nmc/procrastinate.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Rounds of every scenario, interleaved: steady (each system), then flat out (each system). [default: 1, "
    "3 with --compare]",
)
@click.pass_context
def command(
    ctx: click.Context,
    steady_rate: float,
    steady_seconds: float,
    flat_events: int,
    dispatchers: str,
    handlers: str,
    worker_processes: int,
    worker_threads: int,
    compare: str | None,
    rounds: int | None,
) -> None:
    """Outbox → handler: events/s and P50/P95/P99 commit→handler-start latency, 1 and 4 dispatchers; with
    --compare procrastinate, the same against procrastinate in the same run."""
    counts = [int(part) for part in dispatchers.split(",") if part.strip()]
    kinds = [part.strip() for part in handlers.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in HANDLER_MODULES]
    if unknown or not kinds:
        raise click.BadParameter(f"expected db-only and/or isolated, got {handlers!r}", param_hint="--handlers")
    if compare:
        from ops.bench.outbox_compare import require_procrastinate

        require_procrastinate()
    rounds = rounds or (3 if compare else 1)
    settings = scratch_database(get_settings(ctx), "bench")
    scenarios = _scenarios(kinds, counts, steady_rate, int(steady_rate * steady_seconds), flat_events, rounds, compare)
    results = []
    try:
        for scenario in scenarios:
            click.echo(f"running {scenario.name} ({scenario.events} events, round {scenario.round})…", err=True)
            if scenario.system == "procrastinate":
                from ops.bench.outbox_compare import run_procrastinate

                result = run_procrastinate(settings, scenario, worker_processes, worker_threads)
            else:
                result = _run(settings, scenario, worker_processes, worker_threads)
            results.append(result)
            latency = result["latency"]
            click.echo(
                f"{result['scenario']:>24}: {result['throughput_eps']:>8.1f} events/s  handled {result['handled']}/"
                f"{result['events']}  P50 {latency['p50_ms']} ms  P95 {latency['p95_ms']} ms  "
                f"P99 {latency['p99_ms']} ms"
            )
    finally:
        drop_namespace(settings, queues=["bench"])
        drop_database(settings)
    broker = "RabbitMQ (BROKER_URL)" if settings.broker_is_rabbitmq else "Redis"
    lines = [
        "# Outbox benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, load average {_load_average()} at the end."
        f" Workers: {worker_processes} processes × {worker_threads} threads. Broker: {broker}.",
        "Latency is commit → handler start. Targets: ≥ 2,000 events/s flat out; P95 ≤ 25 ms at 200 events/s offered.",
        "Handler db-only: declared `db_only`, so a message's deliveries (up to DELIVERY_BATCH_SIZE) share one",
        "transaction. Isolated: one transaction per delivery, as for handlers that call out.",
        "",
        "| round | scenario | handler | dispatchers | offered/s | handled | events/s | P50 ms | P95 ms | P99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat = r["latency"]
        lines.append(
            f"| {r['round']} | {r['scenario']} | {r['handler_kind']} | {r['dispatchers'] or '—'} "
            f"| {r['offered_rate'] or 'flat out'} | {r['handled']}/{r['events']} "
            f"| {r['throughput_eps']} | {lat['p50_ms']} | {lat['p95_ms']} | {lat['p99_ms']} |"
        )
    data: dict[str, Any] = {
        "broker": broker,
        "rounds": rounds,
        "results": [{k: v for k, v in r.items() if k != "samples"} for r in results],
    }
    if compare:
        from ops.bench.outbox_compare import comparison, comparison_lines

        compared = comparison(results)
        data["comparison"] = {"against": compare, **compared}
        side_by_side = comparison_lines(compared)
        click.echo("\n".join(["", *side_by_side]))
        lines += [
            "",
            "## Side by side with procrastinate",
            "",
            "Same run, same scratch database, interleaved rounds. Ratios are nmc / procrastinate: below 1 the",
            "outbox's latency is the lower; flat out, above 1 its throughput is the higher. Round `all` pools the",
            "rounds' samples.",
            "",
            *side_by_side,
        ]
    path = write_report("outbox", data, "\n".join(lines) + "\n")
    click.echo(f"report: {path}")


def _scenarios(
    kinds: list[str],
    counts: list[int],
    steady_rate: float,
    steady_events: int,
    flat_events: int,
    rounds: int,
    compare: str | None,
) -> list[Scenario]:
    """Round by round: every steady scenario of the outbox, then procrastinate's, then the same flat out."""
    scenarios = []
    for number in range(1, rounds + 1):
        for mode, events, rate in (("steady", steady_events, steady_rate), ("flat", flat_events, None)):
            for kind in kinds:
                suffix = "" if kind == "db-only" else f"-{kind}"
                for count in counts:
                    scenarios.append(
                        Scenario(f"{mode}-{count}d{suffix}", count, mode, events, rate, kind, "nmc", number)
                    )
            if compare:
                scenarios.append(
                    Scenario(f"{mode}-{compare}", 0, mode, events, rate, "one-transaction-per-job", compare, number)
                )
    return scenarios


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())
