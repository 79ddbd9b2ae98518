"""`nmc soak`: a steady, realistic load for a long time, watching for slow leaks.

The same scratch system as `nmc chaos` (its own database, a private Redis, the real processes), but nothing is
killed: missed calls arrive at a steady rate, a share of the callers text back (questions, bookings, STOP), and every
``sample_seconds`` the run records each process's resident memory (the process and its children: gunicorn workers,
Dramatiq worker processes), the outbox lag (age of the oldest undispatched event) and backlog, and the dead tuples
and autovacuum runs of the hot tables. At the end three judgements are made over the second half of the run (the
first half is warm-up: imports, pools, caches filling):

- memory flat: the least-squares slope of each product process's RSS is below ``memory_slope_mb_per_min``;
- lag flat: the slope of the outbox lag is below ``lag_slope_s_per_min`` and the lag never exceeds ``max_lag_s``;
- dead tuples kept in check: at the end each hot table's dead tuples are within twice its autovacuum trigger
  (``autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × live tuples``), i.e. autovacuum keeps up.

The default rate, 1 missed call a second, is about three times the average of the MVP's ceiling (5,000 tenants
missing ~5 calls a working day each, over 10 hours ≈ 0.7 calls/s), with the replies that follow.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from db.settings import Settings
from ops.harness.callers import BOOKING, QUESTION, STOP, CallerOutcome, CallerPlan, World, play
from ops.harness.report import write_report
from ops.harness.scratch import ScratchSystem, scratch_system
from ops.processes import descendants, rss_kb

HOT_TABLES = (
    "outbox_events",
    "outbox_deliveries",
    "processed_events",
    "webhook_events",
    "conv_messages",
    "conv_conversations",
    "conv_first_response_claims",
    "sched_holds",
)
PRODUCT_PROCESSES = ("ingress", "dispatcher", "worker")  # the sandbox is the simulated world, not the product


@dataclass(frozen=True)
class SoakPlan:
    minutes: float = 30.0
    rate: float = 1.0  # missed calls per second
    sample_seconds: float = 30.0
    tenants: int = 20
    seed: int = 1
    concurrency: int = 64
    memory_slope_mb_per_min: float = 1.0
    lag_slope_s_per_min: float = 0.5
    max_lag_s: float = 10.0


@dataclass
class Sample:
    at: float
    rss_mb: dict[str, float]
    outbox_pending: int
    outbox_lag_s: float
    deliveries_open: int
    dead_tuples: dict[str, int]
    live_tuples: dict[str, int]
    autovacuums: dict[str, int]


@dataclass
class Judgement:
    name: str
    passed: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute; 0 for fewer than two points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def rss_by_process(system: ScratchSystem) -> dict[str, float]:
    return {
        name: round(sum(rss_kb(pid) for pid in descendants(process.pid)) / 1024, 1)
        for name, process in system.stack.processes.items()
        if process.poll() is None
    }


def sample(system: ScratchSystem, at: float) -> Sample:
    with psycopg.connect(system.database_url, connect_timeout=10) as conn:
        pending, lag = conn.execute(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
            " FROM outbox_events WHERE dispatched_at IS NULL"
        ).fetchone() or (0, 0)
        open_deliveries = conn.execute(
            "SELECT count(*) FROM outbox_deliveries WHERE status IN ('enqueued', 'processing', 'retrying')"
        ).fetchone()
        tables = conn.execute(
            "SELECT relname, n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            (list(HOT_TABLES),),
        ).fetchall()
    return Sample(
        at=round(at, 1),
        rss_mb=rss_by_process(system),
        outbox_pending=int(pending),
        outbox_lag_s=round(float(lag), 3),
        deliveries_open=int(open_deliveries[0]) if open_deliveries else 0,
        dead_tuples={name: int(dead) for name, dead, _live, _vac in tables},
        live_tuples={name: int(live) for name, _dead, live, _vac in tables},
        autovacuums={name: int(vac) for name, _dead, _live, vac in tables},
    )


def autovacuum_settings(database_url: str) -> tuple[int, float, bool]:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        rows: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings"
                " WHERE name IN ('autovacuum', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor')"
            ).fetchall()
        )
    return (
        int(rows["autovacuum_vacuum_threshold"]),
        float(rows["autovacuum_vacuum_scale_factor"]),
        rows["autovacuum"] == "on",
    )


def judge(
    plan: SoakPlan, samples: Sequence[Sample], threshold: int, scale: float, autovacuum: bool = True
) -> list[Judgement]:
    half = [s for s in samples if s.at >= samples[-1].at / 2] if samples else []
    slopes = {
        name: round(slope_per_minute([(s.at, s.rss_mb[name]) for s in half if name in s.rss_mb]), 3)
        for name in PRODUCT_PROCESSES
    }
    growing = {name: slope for name, slope in slopes.items() if slope >= plan.memory_slope_mb_per_min}
    lag_slope = round(slope_per_minute([(s.at, s.outbox_lag_s) for s in half]), 3)
    worst_lag = max((s.outbox_lag_s for s in half), default=0.0)
    last = samples[-1] if samples else None
    limits = {table: 2 * (threshold + scale * (last.live_tuples.get(table, 0) if last else 0)) for table in HOT_TABLES}
    over = {
        table: dead
        for table, dead in (last.dead_tuples.items() if last else [])
        if dead > max(1000, limits.get(table, 0))
    }
    vacuums = {
        table: (last.autovacuums.get(table, 0) - samples[0].autovacuums.get(table, 0)) if last else 0
        for table in HOT_TABLES
    }
    return [
        Judgement(
            "memory flat",
            bool(half) and not growing,
            f"RSS slope over the second half (MB/min): {slopes}; limit {plan.memory_slope_mb_per_min}",
            {"slopes_mb_per_min": slopes},
        ),
        Judgement(
            "outbox lag flat",
            bool(half) and lag_slope < plan.lag_slope_s_per_min and worst_lag <= plan.max_lag_s,
            f"lag slope {lag_slope} s/min (limit {plan.lag_slope_s_per_min}), worst lag {worst_lag} s"
            f" (limit {plan.max_lag_s})",
            {"lag_slope_s_per_min": lag_slope, "worst_lag_s": worst_lag},
        ),
        Judgement(
            "dead tuples kept in check",
            bool(samples) and not over,
            f"tables over twice their autovacuum trigger at the end: {over or 'none'}; autovacuum runs during the"
            f" soak: {vacuums}" + ("" if autovacuum else "; autovacuum is OFF on this Postgres server"),
            {"over": over, "autovacuum_runs": vacuums, "final_dead": last.dead_tuples if last else {}},
        ),
    ]


def _script(rng: random.Random) -> tuple[str, ...]:
    draw = rng.random()
    if draw < 0.2:
        return QUESTION
    if draw < 0.4:
        return BOOKING
    if draw < 0.45:
        return STOP
    return ()


@dataclass
class SoakResult:
    plan: SoakPlan
    samples: list[Sample]
    judgements: list[Judgement]
    traffic: dict[str, Any]
    report_path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(judgement.passed for judgement in self.judgements)

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "plan": asdict(self.plan),
            "judgements": [asdict(j) for j in self.judgements],
            "traffic": self.traffic,
            "samples": [asdict(s) for s in self.samples],
        }


def run_soak(
    settings: Settings,
    plan: SoakPlan,
    *,
    log_dir: Path,
    template: str | None = None,
    results_dir: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> SoakResult:
    rng = random.Random(plan.seed)
    samples: list[Sample] = []
    futures: list[Future[CallerOutcome]] = []
    with scratch_system(
        settings, tenants=plan.tenants, log_dir=log_dir, template=template, prefix="nmc_soak"
    ) as system:
        world = World(system.stack.sandbox_url)
        threshold, scale, autovacuum = autovacuum_settings(system.database_url)
        stop = threading.Event()
        started = time.monotonic()
        end = started + plan.minutes * 60

        def sampler() -> None:
            while True:
                try:
                    taken = sample(system, time.monotonic() - started)
                    samples.append(taken)
                    progress(
                        f"{taken.at:7.1f} s  rss {taken.rss_mb}  lag {taken.outbox_lag_s} s"
                        f"  pending {taken.outbox_pending}  dead {sum(taken.dead_tuples.values())}"
                    )
                except psycopg.Error as error:
                    progress(f"sample failed: {error}")
                if stop.wait(plan.sample_seconds):
                    return

        watcher = threading.Thread(target=sampler, name="soak-sampler", daemon=True)
        watcher.start()
        try:
            with ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="caller") as pool:
                index = 0
                while True:
                    due = started + index / plan.rate
                    if due >= end:
                        break
                    if due > time.monotonic():
                        time.sleep(due - time.monotonic())
                    caller = CallerPlan(
                        caller=f"+1415{3_000_000 + index:07d}",
                        number=rng.choice(system.numbers),
                        script=_script(rng),
                    )
                    futures.append(pool.submit(play, world, caller))
                    index += 1
            outcomes = [future.result() for future in futures]
            # One last sample after the load's tail, so the judgement sees the end state.
            stop.set()
            watcher.join()
            samples.append(sample(system, time.monotonic() - started))
        finally:
            stop.set()
            watcher.join()
            world.close()
    judgements = judge(plan, samples, threshold, scale, autovacuum)
    traffic = {
        "calls": len(outcomes),
        "calls_accepted": sum(1 for o in outcomes if o.accepted),
        "texts_sent": sum(o.texts_sent for o in outcomes),
        "scripts_cut_short": sum(1 for o in outcomes if o.gave_up),
        "seconds": round(time.monotonic() - started, 1),
    }
    result = SoakResult(plan, samples, judgements, traffic)
    if results_dir is not None:
        result.report_path = write_report("soak", result.as_json(), markdown(result), directory=results_dir)
    return result


def markdown(result: SoakResult) -> str:
    plan = result.plan
    lines = [
        "# Soak",
        "",
        f"**{'PASS' if result.passed else 'FAIL'}** — {plan.minutes:g} min at {plan.rate:g} missed calls/s to"
        f" {plan.tenants} tenants ({result.traffic['calls']} calls, {result.traffic['texts_sent']} caller texts),"
        f" sampled every {plan.sample_seconds:g} s. Judged over the second half of the run.",
        "",
        "| judgement | result | detail |",
        "|---|---|---|",
    ]
    for judgement in result.judgements:
        lines.append(f"| {judgement.name} | {'pass' if judgement.passed else 'FAIL'} | {judgement.detail} |")
    names = sorted({name for s in result.samples for name in s.rss_mb})
    lines += [
        "",
        "## Samples",
        "",
        "| at s | " + " | ".join(f"{name} MB" for name in names) + " | outbox pending | lag s | open deliveries |"
        " dead tuples (hot tables) | autovacuums |",
        "|---" * (len(names) + 6) + "|",
    ]
    for s in result.samples:
        rss = " | ".join(f"{s.rss_mb.get(name, 0):.1f}" for name in names)
        lines.append(
            f"| {s.at:.0f} | {rss} | {s.outbox_pending} | {s.outbox_lag_s:.2f} | {s.deliveries_open} |"
            f" {sum(s.dead_tuples.values())} | {sum(s.autovacuums.values())} |"
        )
    lines += ["", "RSS is the process and its children (gunicorn workers, Dramatiq worker processes).", ""]
    return "\n".join(lines)
