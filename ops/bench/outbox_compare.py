"""`nmc bench outbox --compare procrastinate`: procrastinate beside the outbox, in the same run and scratch database.

Each round runs the outbox scenarios and then procrastinate's with the same offered load and the same measure
(producer commit → the job's first write, ``bench_handler_starts``), so both see the same machine at nearly the same
moment: on a shared box that interleaving is what makes the ratios fair. procrastinate runs as it is meant to: its
psycopg 3 connector, LISTEN/NOTIFY, one job per transaction (deferred alone, fetched alone, finished alone), as
many worker processes as the outbox's worker and as many concurrent jobs per process as its threads. Its schema is
applied to the scratch database, which the bench drops afterwards.

procrastinate is the bench-only ``bench-compare`` extra: this module imports it only once a comparison runs.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import click
import psycopg

from db.settings import Settings
from ops.bench.outbox_scenarios import Scenario, await_starts, fresh_scenario, offer, summarize
from ops.harness.report import percentile
from ops.processes import stop_groups
from ops.stack import die_with_parent

COMPARE_HINT = (
    "nmc bench outbox --compare procrastinate needs procrastinate: pip install -c constraints.txt -e '.[bench-compare]'"
)


def require_procrastinate() -> None:
    """Fail in one line, before any scenario runs, when the ``bench-compare`` extra is not installed."""
    try:
        missing = importlib.util.find_spec("procrastinate") is None
    except ValueError:  # a module set to None in sys.modules (how the tests hide it)
        missing = True
    if missing:
        raise click.ClickException(COMPARE_HINT)


class ProcrastinateWorkers:
    """``processes`` procrastinate workers (``python -m ops.bench.procrastinate_worker``) on the scratch database."""

    def __init__(self, settings: Settings, processes: int, concurrency: int) -> None:
        self.count = processes
        env = os.environ | {"DATABASE_URL": settings.database_url}
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "ops.bench.procrastinate_worker", str(concurrency)],
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
            for _ in range(processes)
        ]

    def wait_ready(self, settings: Settings, timeout: float = 90.0) -> None:
        """Until every worker has registered and is LISTENing (its listener connection's last statement is the
        LISTEN): a job deferred before that would only be found by the 5 s poll."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                for process in self.processes:
                    if process.poll() is not None:
                        raise click.ClickException(f"a procrastinate worker exited with {process.returncode}")
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM procrastinate_workers),"
                    " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    "   AND state = 'idle' AND query LIKE 'LISTEN %%')"
                ).fetchone()
                if row is not None and row[0] >= self.count and row[1] >= self.count:
                    return
                time.sleep(0.1)
        raise click.ClickException(f"the procrastinate workers were not listening after {timeout:.0f} s")

    def stop(self) -> None:
        stop_groups(self.processes)


def apply_schema(settings: Settings) -> None:
    """procrastinate's tables, types and functions in the scratch database (once per run)."""
    from procrastinate import SyncPsycopgConnector

    from ops.bench.procrastinate_app import make_app

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if row is not None and row[0]:
            return
    app = make_app(SyncPsycopgConnector(conninfo=settings.database_url, min_size=1, max_size=1))
    with app.open():
        app.schema_manager.apply_schema()


def run_procrastinate(
    settings: Settings, scenario: Scenario, worker_processes: int, worker_threads: int
) -> dict[str, Any]:
    """One scenario through procrastinate: jobs deferred one per transaction at the offered rate (steady), or in
    batches of 1,000 (flat out), measured exactly as the outbox's events are."""
    from procrastinate import SyncPsycopgConnector

    from ops.bench.procrastinate_app import make_app, record_start_task

    apply_schema(settings)
    engine = fresh_scenario(settings, "procrastinate_jobs, procrastinate_workers")
    workers = ProcrastinateWorkers(settings, worker_processes, worker_threads)
    producer = make_app(SyncPsycopgConnector(conninfo=settings.database_url, min_size=1, max_size=1))
    task = record_start_task(producer)

    def commit(count: int) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(count)]
        if count == 1:
            task.defer(event_id=str(ids[0]))
        else:
            task.batch_defer(*({"event_id": str(event_id)} for event_id in ids))
        return ids

    try:
        workers.wait_ready(settings)
        with producer.open():
            committed, producer_seconds = offer(scenario, commit)
        starts = await_starts(engine, scenario.events)
    finally:
        workers.stop()
        engine.dispose()
    return summarize(scenario, committed, starts, producer_seconds)


# --- the side-by-side tables ------------------------------------------------------------------------------------


def _pooled(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    samples = [sample * 1000 for run in runs for sample in run["samples"]]
    return {f"p{p}_ms": round(percentile(samples, p), 2) for p in (50, 95, 99)}


def _ratio(nmc: float, other: float) -> float | None:
    return round(nmc / other, 2) if other and other == other and nmc == nmc else None


def comparison(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each outbox scenario against procrastinate's of the same mode: per round and pooled over the rounds, the
    steady P50/P95/P99 and their ratios (nmc / procrastinate: below 1, the outbox's tail is the shorter), and flat
    out the throughputs and their ratio (nmc / procrastinate)."""
    theirs: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r["system"] == "procrastinate":
            theirs.setdefault(r["mode"], []).append(r)
    steady: list[dict[str, Any]] = []
    flat: list[dict[str, Any]] = []
    names = list(dict.fromkeys(r["scenario"] for r in results if r["system"] == "nmc"))
    for name in names:
        ours = [r for r in results if r["system"] == "nmc" and r["scenario"] == name]
        mode = ours[0]["mode"]
        other = theirs.get(mode, [])
        if not other:
            continue
        by_round = {r["round"]: r for r in other}
        if mode == "steady":
            rows = [
                (str(r["round"]), {k: r["latency"][k] for k in ("p50_ms", "p95_ms", "p99_ms")}, by_round[r["round"]])
                for r in ours
                if r["round"] in by_round
            ]
            entries: list[dict[str, Any]] = [
                {"round": label, "nmc": mine, "procrastinate": {k: o["latency"][k] for k in mine}}
                for label, mine, o in rows
            ]
            entries.append({"round": "all", "nmc": _pooled(ours), "procrastinate": _pooled(other)})
            for entry in entries:
                entry["ratio"] = {k: _ratio(entry["nmc"][k], entry["procrastinate"][k]) for k in entry["nmc"]}
            steady.append({"scenario": name, "handler_kind": ours[0]["handler_kind"], "rounds": entries})
        else:
            entries = [
                {
                    "round": str(r["round"]),
                    "nmc_eps": r["throughput_eps"],
                    "procrastinate_jobs_per_s": by_round[r["round"]]["throughput_eps"],
                    "ratio": _ratio(r["throughput_eps"], by_round[r["round"]]["throughput_eps"]),
                }
                for r in ours
                if r["round"] in by_round
            ]
            flat.append({"scenario": name, "handler_kind": ours[0]["handler_kind"], "rounds": entries})
    return {"steady": steady, "flat": flat}


def comparison_lines(compared: dict[str, Any]) -> list[str]:
    """The side-by-side tables in Markdown (printed as they are and written to the report)."""
    lines = []
    for entry in compared["steady"]:
        lines += [
            f"### {entry['scenario']} ({entry['handler_kind']}) vs procrastinate, commit → start",
            "",
            "| round | nmc P50 | P95 | P99 | procrastinate P50 | P95 | P99 | ratio P50 | P95 | P99 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in entry["rounds"]:
            cells = [row["nmc"][k] for k in ("p50_ms", "p95_ms", "p99_ms")]
            cells += [row["procrastinate"][k] for k in ("p50_ms", "p95_ms", "p99_ms")]
            cells += [row["ratio"][k] for k in ("p50_ms", "p95_ms", "p99_ms")]
            lines.append(f"| {row['round']} | " + " | ".join("—" if c is None else str(c) for c in cells) + " |")
        lines.append("")
    for entry in compared["flat"]:
        lines += [
            f"### {entry['scenario']} ({entry['handler_kind']}) vs procrastinate (one transaction per job), flat out",
            "",
            "| round | nmc events/s | procrastinate jobs/s | ratio |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {row['round']} | {row['nmc_eps']} | {row['procrastinate_jobs_per_s']} | {row['ratio']} |"
            for row in entry["rounds"]
        ]
        lines.append("")
    return lines
