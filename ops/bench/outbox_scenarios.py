"""What the outbox bench and its procrastinate side share: a scenario, a fresh start for it, offering its events at
its rate, waiting for their handlers' starts, and the figures of one run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy import Engine, text

from db.engine import make_engine
from db.settings import Settings
from ops.bench.outbox_handlers import CREATE_TABLE
from ops.harness.database import checkpoint
from ops.harness.report import summarize_ms

FLAT_BATCH = 1000


@dataclass
class Scenario:
    name: str
    dispatchers: int
    mode: str  # steady | flat
    events: int
    rate: float | None
    handler_kind: str  # db-only | isolated | one-transaction-per-job (procrastinate's)
    system: str = "nmc"  # nmc | procrastinate
    round: int = 1


def fresh_scenario(settings: Settings, tables: str) -> Engine:
    """An engine on the scratch database, with the start-time table created, ``tables`` emptied and a CHECKPOINT
    taken, so one scenario's leftovers and dirty pages do not weigh on the next (of either system)."""
    engine = make_engine(settings, pool_size=2, max_overflow=2, application_name="nmc-bench")
    with engine.begin() as conn:
        conn.execute(text(CREATE_TABLE))
        conn.execute(text(f"TRUNCATE bench_handler_starts, {tables} CASCADE"))
    refused = checkpoint(settings)
    if refused:
        click.echo(f"warning: no CHECKPOINT before the scenario ({refused})", err=True)
    return engine


def offer(scenario: Scenario, commit: Callable[[int], list[uuid.UUID]]) -> tuple[dict[uuid.UUID, float], float]:
    """Commit the scenario's events through ``commit(n)`` (n events in one transaction, their ids back): one per
    transaction at the offered rate, or a backlog in transactions of 1,000. Each event's commit time, and how long
    the producer took."""
    committed: dict[uuid.UUID, float] = {}
    started = time.time()
    if scenario.mode == "steady":
        assert scenario.rate
        interval = 1.0 / scenario.rate
        for index in range(scenario.events):
            delay = started + index * interval - time.time()
            if delay > 0:
                time.sleep(delay)
            (event_id,) = commit(1)
            committed[event_id] = time.time()
    else:
        for offset in range(0, scenario.events, FLAT_BATCH):
            ids = commit(min(FLAT_BATCH, scenario.events - offset))
            now = time.time()
            committed.update((event_id, now) for event_id in ids)
    return committed, time.time() - started


def await_starts(engine: Engine, events: int, timeout: float = 300.0) -> dict[uuid.UUID, float]:
    """Each handled event's start (``bench_handler_starts``), once all ``events`` have started or after ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM bench_handler_starts")).scalar_one()
        if done >= events:
            break
        time.sleep(0.2)
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT event_id, started_at FROM bench_handler_starts")).all())


def summarize(
    scenario: Scenario, committed: dict[uuid.UUID, float], starts: dict[uuid.UUID, float], producer_seconds: float
) -> dict[str, Any]:
    latencies = [starts[event_id] - at for event_id, at in committed.items() if event_id in starts]
    first_commit = min(committed.values())
    last_start = max(starts.values()) if starts else first_commit
    return {
        "scenario": scenario.name,
        "system": scenario.system,
        "round": scenario.round,
        "dispatchers": scenario.dispatchers,
        "handler_kind": scenario.handler_kind,
        "mode": scenario.mode,
        "offered_rate": scenario.rate,
        "events": scenario.events,
        "handled": len(latencies),
        "producer_seconds": round(producer_seconds, 2),
        "throughput_eps": round(len(latencies) / max(1e-6, last_start - first_commit), 1),
        "latency": summarize_ms(latencies),
        # The raw samples, for percentiles pooled over rounds; not written to the report.
        "samples": latencies,
    }
