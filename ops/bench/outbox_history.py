"""`nmc bench outbox-history`: does claiming and re-driving cost the same with ten million rows of history?

Two scratch databases (``<DATABASE_URL name>_bench_history_small`` and ``…_big``) get the same live set (a minute's
in-flight events and deliveries in every state) and a history of done events with their done deliveries and
processed markers: a small one and a big one (10 M by default), spread over 35 days so part of it is past the 30-day
retention. Each claim, re-drive and retention statement then runs in a transaction that is rolled back, alternately
against the small and the big database (the box drifts ±20 % over minutes, so A then B, B then A), in two phases:
just after VACUUM ANALYZE, and after ``--churn`` events went through dispatch → claim → done with autovacuum
emulated as the tables' settings would run it (the development server runs with autovacuum off). Last, real
retention batches measure the delete rate.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import click
from sqlalchemy import Connection, Engine, text

from db.engine import make_engine, make_session_factory
from db.retention import RULES, run_retention
from db.settings import Settings
from domain.events.envelope import utcnow
from ops.context import get_settings
from ops.harness.database import drop_database, scratch_database
from ops.harness.outbox_history import (
    RETENTION_DAYS,
    TABLES,
    Probe,
    churn,
    fill_history,
    probes,
    seed_live_set,
)
from ops.harness.report import summarize_ms, write_report

WARM_UP = 5


def _fill(name: str, engine: Engine, events: int, handlers: int, days: float) -> float:
    started = time.monotonic()
    with engine.connect() as conn:
        conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        conn.exec_driver_sql("SET synchronous_commit = off")

        def progress(done: int) -> None:
            elapsed = time.monotonic() - started
            click.echo(f"  {name}: {done:,}/{events:,} events of history ({elapsed:.0f} s)", err=True)

        if events:
            now = utcnow()
            fill_history(
                conn,
                events,
                handlers=handlers,
                end=now - timedelta(hours=1),
                span=timedelta(days=days),
                progress=progress,
            )
        seed_live_set(conn, utcnow())
    _vacuum(engine, "VACUUM (ANALYZE)")
    seconds = time.monotonic() - started
    click.echo(f"  {name}: filled and vacuumed in {seconds:.0f} s", err=True)
    return seconds


def _vacuum(engine: Engine, command: str, tables: tuple[str, ...] = TABLES) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"{command} {table}")


def _sizes(engine: Engine) -> dict[str, dict[str, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid) AS bytes, s.n_dead_tup"
                " FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = ANY(:tables)"
            ),
            {"tables": list(TABLES)},
        ).all()
    return {
        row.relname: {"rows": max(0, int(row.reltuples)), "mb": round(row.bytes / 2**20), "dead": int(row.n_dead_tup)}
        for row in rows
    }


def _emulate_autovacuum(conn: Connection) -> list[str]:
    """VACUUM / ANALYZE each outbox table whose dead tuples / changes pass the trigger autovacuum would compute from
    its settings (per-table reloptions, else the server's): what production would have done by now."""
    settings: dict[str, str] = dict(
        conn.execute(
            text(
                "SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum_%threshold' OR name LIKE"
                " 'autovacuum_%scale_factor'"
            )
        ).all()
    )
    done = []
    for table in TABLES:
        row = conn.execute(
            text(
                "SELECT c.reltuples, coalesce(c.reloptions, '{}') AS options, s.n_dead_tup, s.n_mod_since_analyze"
                " FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = :table"
            ),
            {"table": table},
        ).one()
        options = dict(option.split("=", 1) for option in row.options)

        def knob(name: str, options: dict[str, str] = options) -> float:
            return float(options[name] if name in options else settings[name])

        rows = max(0.0, float(row.reltuples))
        if row.n_dead_tup > knob("autovacuum_vacuum_threshold") + knob("autovacuum_vacuum_scale_factor") * rows:
            conn.exec_driver_sql(f"VACUUM {table}")  # honours the table's vacuum_index_cleanup, as autovacuum does
            done.append(f"vacuum {table}")
        if (
            row.n_mod_since_analyze
            > knob("autovacuum_analyze_threshold") + knob("autovacuum_analyze_scale_factor") * rows
        ):
            conn.exec_driver_sql(f"ANALYZE {table}")
            done.append(f"analyze {table}")
    return done


def _churn(engines: dict[str, Engine], lifecycles: int, chunk: int, handlers: int) -> dict[str, int]:
    vacuums = dict.fromkeys(engines, 0)
    started = time.monotonic()
    for done in range(0, lifecycles, chunk):
        for name, engine in engines.items():
            with engine.connect() as conn:
                churn(conn, min(chunk, lifecycles - done), handlers=handlers, now=utcnow())
                conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
                conn.commit()
            time.sleep(0.05)  # the stats of the commit above reach the shared view
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                vacuums[name] += sum(1 for action in _emulate_autovacuum(conn) if action.startswith("vacuum"))
        click.echo(
            f"  churn: {min(lifecycles, done + chunk):,}/{lifecycles:,} lifecycles in each database"
            f" ({time.monotonic() - started:.0f} s)",
            err=True,
        )
    return vacuums


def _plan_facts(explained: dict[str, Any]) -> dict[str, Any]:
    """Buffers touched (shared hit + read), every scan node over an outbox table, and the milliseconds spent in
    triggers (the foreign keys' cascades, whose own scans EXPLAIN does not show), from an EXPLAIN result."""
    scans: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        relation = node.get("Relation Name")
        if relation in TABLES and node["Node Type"] != "ModifyTable":
            scans.append(f"{node['Node Type']} {relation}")
        for child in node.get("Plans", []):
            walk(child)

    plan = explained["Plan"]
    walk(plan)
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    triggers_ms = sum(trigger.get("Time", 0.0) for trigger in explained.get("Triggers", []))
    return {"buffers": buffers, "scans": sorted(set(scans)), "triggers_ms": round(triggers_ms, 2)}


def _measure(engines: dict[str, Engine], samples: int, settings: Settings, handlers: int) -> dict[str, Any]:
    """Every probe, A/B interleaved; its latencies and one EXPLAIN (ANALYZE, BUFFERS) per database."""
    connections = {name: engine.connect() for name, engine in engines.items()}
    try:
        now = utcnow()
        by_db: dict[str, list[Probe]] = {}
        for name, conn in connections.items():
            by_db[name] = probes(
                conn,
                now,
                handlers=handlers,
                batch_size=settings.outbox_batch_size,
                delivery_batch=settings.delivery_batch_size,
            )
            conn.rollback()
        names = list(engines)
        results: dict[str, Any] = {}
        for index, probe_name in enumerate(probe.name for probe in by_db[names[0]]):
            timings: dict[str, list[float]] = {name: [] for name in names}
            rows: dict[str, int] = {}
            for sample in range(samples + WARM_UP):
                for name in names if sample % 2 == 0 else reversed(names):
                    conn = connections[name]
                    started = time.perf_counter()
                    rows[name] = len(by_db[name][index].run(conn))
                    elapsed = time.perf_counter() - started
                    conn.rollback()
                    if sample >= WARM_UP:
                        timings[name].append(elapsed)
            facts = {}
            for name in names:
                facts[name] = _plan_facts(by_db[name][index].explain(connections[name]))
                connections[name].rollback()
            results[probe_name] = {
                name: {**summarize_ms(timings[name]), "rows": rows[name], **facts[name]} for name in names
            }
        return results
    finally:
        for conn in connections.values():
            conn.close()


def _retention(engine: Engine, batches: int) -> dict[str, Any]:
    """Real retention batches (not rolled back) of the two outbox rules: rows deleted per second."""
    sessions = make_session_factory(engine)
    rules = tuple(rule for rule in RULES if rule.name in ("outbox_events", "processed_events"))
    results = run_retention(sessions, rules=rules, max_batches=batches)
    return {
        r.name: {
            "rows": r.rows,
            "batches": r.batches,
            "seconds": round(r.seconds, 2),
            "rows_per_s": round(r.rows / max(r.seconds, 1e-6)),
        }
        for r in results
    }


def _table(phase: str, results: dict[str, Any]) -> list[str]:
    lines = [
        f"### {phase}",
        "",
        "| statement | history | rows | P50 ms | P95 ms | P99 ms | buffers | triggers ms | scans |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for probe_name, by_db in results.items():
        for name, r in by_db.items():
            lines.append(
                f"| {probe_name} | {name} | {r['rows']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
                f"| {r['buffers']} | {r['triggers_ms']} | {', '.join(r['scans'])} |"
            )
    return [*lines, ""]


def _verdicts(phase: str, results: dict[str, Any], tolerance: float) -> list[str]:
    lines = []
    for probe_name, by_db in results.items():
        small, big = by_db["small"], by_db["big"]
        ratio = big["p95_ms"] / max(small["p95_ms"], 1e-3)
        verdict = "unchanged" if ratio <= tolerance else "GROWS with history"
        lines.append(
            f"{phase:>11} | {probe_name:<25} P95 {small['p95_ms']:>8} ms → {big['p95_ms']:>8} ms"
            f"  ×{ratio:.2f}  buffers {small['buffers']} → {big['buffers']}  {verdict}"
        )
    return lines


@click.command()
@click.option("--history", default=10_000_000, show_default=True, help="Done events in the big database's history.")
@click.option("--small-history", default=10_000, show_default=True, help="Done events in the small database's.")
@click.option("--handlers", default=2, show_default=True, help="Deliveries (and processed markers) per event.")
@click.option("--history-days", default=35.0, show_default=True, help="Days the history spans (retention: 30).")
@click.option("--samples", default=200, show_default=True, help="Timed runs of each statement in each database.")
@click.option(
    "--churn",
    "churn_lifecycles",
    default=100_000,
    show_default=True,
    help="Events run through dispatch → done after the first phase (0: no second phase).",
)
@click.option("--churn-chunk", default=10_000, show_default=True, help="Lifecycles between autovacuum checks.")
@click.option("--retention-batches", default=100, show_default=True, help="Real retention batches timed per rule.")
@click.option("--tolerance", default=1.5, show_default=True, help="Big/small P95 ratio still called unchanged.")
@click.option("--keep", is_flag=True, help="Keep the two scratch databases (default: dropped).")
@click.pass_context
def command(
    ctx: click.Context,
    history: int,
    small_history: int,
    handlers: int,
    history_days: float,
    samples: int,
    churn_lifecycles: int,
    churn_chunk: int,
    retention_batches: int,
    tolerance: float,
    keep: bool,
) -> None:
    """Claim, re-drive and retention statements: P50/P95/P99 with a small and a big outbox history, A/B interleaved."""
    if history < small_history or small_history < 0:
        raise click.BadParameter("must be at least --small-history (and both ≥ 0)", param_hint="--history")
    for value, hint in ((handlers, "--handlers"), (samples, "--samples"), (churn_chunk, "--churn-chunk")):
        if value < 1:
            raise click.BadParameter("must be at least 1", param_hint=hint)
    if history_days <= RETENTION_DAYS:
        raise click.BadParameter(
            f"must be over {RETENTION_DAYS} (some history past retention)", param_hint="--history-days"
        )
    base = get_settings(ctx)
    databases = {
        "small": scratch_database(base, "bench_history_small"),
        "big": scratch_database(base, "bench_history_big"),
    }
    engines = {
        name: make_engine(s, pool_size=2, max_overflow=2, application_name="nmc-bench") for name, s in databases.items()
    }
    data: dict[str, Any] = {"history": {"small": small_history, "big": history}, "handlers": handlers}
    try:
        click.echo("filling the histories…", err=True)
        data["fill_seconds"] = {
            "small": round(_fill("small", engines["small"], small_history, handlers, history_days)),
            "big": round(_fill("big", engines["big"], history, handlers, history_days)),
        }
        data["sizes"] = {name: _sizes(engine) for name, engine in engines.items()}
        click.echo("measuring just after VACUUM ANALYZE…", err=True)
        data["clean"] = _measure(engines, samples, base, handlers)
        if churn_lifecycles:
            for engine in engines.values():
                _vacuum(engine, "VACUUM")  # the rolled-back probes' dead rows are not part of the traffic
            data["autovacuums"] = _churn(engines, churn_lifecycles, churn_chunk, handlers)
            data["sizes_after_churn"] = {name: _sizes(engine) for name, engine in engines.items()}
            click.echo(f"measuring after {churn_lifecycles:,} lifecycles (autovacuum emulated)…", err=True)
            data["churned"] = _measure(engines, samples, base, handlers)
        click.echo(f"timing {retention_batches} real retention batches per rule…", err=True)
        data["retention"] = {name: _retention(engine, retention_batches) for name, engine in engines.items()}
    finally:
        for engine in engines.values():
            engine.dispose()
        if not keep:
            for s in databases.values():
                drop_database(s)
    lines = [
        "# Outbox history benchmark",
        "",
        f"Machine: {os.cpu_count()} cores. History: {small_history:,} (small) and {history:,} (big) done events,"
        f" {handlers} done deliveries and processed markers each, over {history_days:g} days; the same live set in"
        " both. Each statement runs in a rolled-back transaction, small and big alternately.",
        f"Fill: small {data['fill_seconds']['small']} s, big {data['fill_seconds']['big']} s (with VACUUM ANALYZE).",
        "",
        "| database | table | rows | MB | dead tuples |",
        "|---|---|---|---|---|",
    ]
    for name, tables in data["sizes"].items():
        for table, size in tables.items():
            lines.append(f"| {name} | {table} | {size['rows']:,} | {size['mb']:,} | {size['dead']:,} |")
    lines.append("")
    lines += _table("Just after VACUUM ANALYZE", data["clean"])
    verdicts = _verdicts("clean", data["clean"], tolerance)
    if "churned" in data:
        lines += [f"Churn: {churn_lifecycles:,} lifecycles; emulated autovacuums: {data['autovacuums']}.", ""]
        for name, tables in data["sizes_after_churn"].items():
            lines.append(f"- {name}: " + ", ".join(f"{t} {s['dead']:,} dead" for t, s in tables.items()))
        lines.append("")
        lines += _table(f"After {churn_lifecycles:,} lifecycles", data["churned"])
        verdicts += _verdicts("churned", data["churned"], tolerance)
    lines += [
        "### Retention (real batches of 500)",
        "",
        "| database | rule | rows | batches | s | rows/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, rules in data["retention"].items():
        for rule, r in rules.items():
            lines.append(f"| {name} | {rule} | {r['rows']:,} | {r['batches']} | {r['seconds']} | {r['rows_per_s']:,} |")
    lines += ["", "### Verdicts (big/small P95)", "", "```", *verdicts, "```", ""]
    for line in verdicts:
        click.echo(line)
    for name, rules in data["retention"].items():
        for rule, r in rules.items():
            click.echo(
                f"  retention | {name:>5} {rule:<16} {r['rows']:>8,} rows in {r['seconds']:>6} s"
                f" = {r['rows_per_s']:>7,} rows/s"
            )
    path = write_report("outbox-history", data, "\n".join(lines) + "\n")
    click.echo(f"report: {path}")
