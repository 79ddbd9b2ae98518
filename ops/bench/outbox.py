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
from dataclasses import dataclass
from typing import Any

import click
import redis
from sqlalchemy import text

from db import heartbeats
from db.engine import make_engine, make_session_factory
from db.settings import Settings
from domain.events.catalog import TenantCreated
from domain.events.outbox import append_envelopes, build_envelope
from ops.bench.outbox_handlers import CREATE_TABLE
from ops.context import get_settings
from ops.harness.database import checkpoint, drop_database, drop_namespace, scratch_database
from ops.harness.report import summarize_ms, write_report
from ops.processes import stop_groups

HANDLER_MODULES = {"db-only": "ops.bench.outbox_handlers", "isolated": "ops.bench.outbox_handlers_isolated"}


@dataclass
class Scenario:
    name: str
    dispatchers: int
    mode: str  # steady | flat
    events: int
    rate: float | None
    handler_kind: str  # db-only | isolated


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
            subprocess.Popen([sys.executable, "-m", "ops", "dispatcher"], env=env, start_new_session=True)
            for _ in range(dispatchers)
        ]
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "ops", "worker", "-p", str(worker_processes), "-t", str(worker_threads)],
                env=env,
                start_new_session=True,
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
    engine = make_engine(settings, pool_size=2, max_overflow=2, application_name="nmc-bench")
    sessions = make_session_factory(engine)
    with engine.begin() as conn:
        conn.execute(text(CREATE_TABLE))
        conn.execute(text("TRUNCATE bench_handler_starts, outbox_events, processed_events CASCADE"))
    refused = checkpoint(settings)
    if refused:
        click.echo(f"warning: no CHECKPOINT before the scenario ({refused})", err=True)
    pipeline = Pipeline(
        settings, scenario.dispatchers, worker_processes, worker_threads, HANDLER_MODULES[scenario.handler_kind]
    )
    committed: dict[uuid.UUID, float] = {}
    try:
        pipeline.wait_ready(settings)
        started = time.time()
        if scenario.mode == "steady":
            assert scenario.rate
            interval = 1.0 / scenario.rate
            for index in range(scenario.events):
                target = started + index * interval
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                envelope = build_envelope(_event(), tenant_id=None)
                with sessions() as session, session.begin():
                    append_envelopes(session, [envelope])
                committed[envelope.event_id] = time.time()
        else:
            batch = 1000
            for offset in range(0, scenario.events, batch):
                envelopes = [
                    build_envelope(_event(), tenant_id=None) for _ in range(min(batch, scenario.events - offset))
                ]
                with sessions() as session, session.begin():
                    append_envelopes(session, envelopes)
                now = time.time()
                committed.update((envelope.event_id, now) for envelope in envelopes)
        producer_seconds = time.time() - started
        deadline = time.time() + 300
        while time.time() < deadline:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM bench_handler_starts")).scalar_one()
            if done >= scenario.events:
                break
            time.sleep(0.2)
        with engine.connect() as conn:
            starts: dict[uuid.UUID, float] = dict(
                conn.execute(text("SELECT event_id, started_at FROM bench_handler_starts")).all()
            )
    finally:
        pipeline.stop()
        engine.dispose()
    latencies = [starts[event_id] - at for event_id, at in committed.items() if event_id in starts]
    first_commit = min(committed.values())
    last_start = max(starts.values()) if starts else first_commit
    return {
        "scenario": scenario.name,
        "dispatchers": scenario.dispatchers,
        "handler_kind": scenario.handler_kind,
        "mode": scenario.mode,
        "offered_rate": scenario.rate,
        "events": scenario.events,
        "handled": len(latencies),
        "producer_seconds": round(producer_seconds, 2),
        "throughput_eps": round(len(latencies) / max(1e-6, last_start - first_commit), 1),
        "latency": summarize_ms(latencies),
    }


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
) -> None:
    """Outbox → handler: events/s and P50/P95/P99 commit→handler-start latency, 1 and 4 dispatchers."""
    counts = [int(part) for part in dispatchers.split(",") if part.strip()]
    kinds = [part.strip() for part in handlers.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in HANDLER_MODULES]
    if unknown or not kinds:
        raise click.BadParameter(f"expected db-only and/or isolated, got {handlers!r}", param_hint="--handlers")
    settings = scratch_database(get_settings(ctx), "bench")
    scenarios = []
    for kind in kinds:
        suffix = "" if kind == "db-only" else f"-{kind}"
        for count in counts:
            steady_events = int(steady_rate * steady_seconds)
            scenarios.append(Scenario(f"steady-{count}d{suffix}", count, "steady", steady_events, steady_rate, kind))
            scenarios.append(Scenario(f"flat-{count}d{suffix}", count, "flat", flat_events, None, kind))
    results = []
    try:
        for scenario in scenarios:
            click.echo(f"running {scenario.name} ({scenario.events} events)…", err=True)
            result = _run(settings, scenario, worker_processes, worker_threads)
            results.append(result)
            latency = result["latency"]
            click.echo(
                f"{result['scenario']:>19}: {result['throughput_eps']:>8.1f} events/s  handled {result['handled']}/"
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
        f"Machine: {os.cpu_count()} cores. Workers: {worker_processes} processes × {worker_threads} threads."
        f" Broker: {broker}.",
        "Latency is commit → handler start. Targets: ≥ 2,000 events/s flat out; P95 ≤ 25 ms at 200 events/s offered.",
        "Handler db-only: declared `db_only`, so a message's deliveries (up to DELIVERY_BATCH_SIZE) share one",
        "transaction. Isolated: one transaction per delivery, as for handlers that call out.",
        "",
        "| scenario | handler | dispatchers | offered/s | handled | events/s | P50 ms | P95 ms | P99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lat = r["latency"]
        lines.append(
            f"| {r['scenario']} | {r['handler_kind']} | {r['dispatchers']} | {r['offered_rate'] or 'flat out'} "
            f"| {r['handled']}/{r['events']} "
            f"| {r['throughput_eps']} | {lat['p50_ms']} | {lat['p95_ms']} | {lat['p99_ms']} |"
        )
    path = write_report("outbox", {"broker": broker, "results": results}, "\n".join(lines) + "\n")
    click.echo(f"report: {path}")
