"""The claim, re-drive and retention statements stay on index paths bounded by the live set as the history grows.

Not timed: the plans and the buffers they touch are what would grow with the table (`nmc bench outbox-history` has
the timings at 10 M rows). One database is measured with a small history, then again after three times as much
history was appended, both ANALYZEd, with the same live set throughout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from db.retention import DEFAULT_BATCH_SIZE
from domain.events.envelope import utcnow
from ops.harness.outbox_history import LIVE, TABLES, Probe, fill_history, probes, seed_live_set

# Below ~50,000 events the planner rightly scans the small tables; from there on the plans are the index plans.
SMALL = 80_000
BIG = 240_000
HANDLERS = 2
# Enough dead letters (a delivery in 100) that the planner would rather index them than scan them, if it can.
DEAD_EVERY = 100


def _grow(engine: Engine, events: int) -> None:
    with engine.connect() as conn:
        now = utcnow()
        fill_history(
            conn,
            events,
            handlers=HANDLERS,
            end=now - timedelta(hours=1),
            span=timedelta(days=35),
            dead_every=DEAD_EVERY,
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def _observe(conn: Connection, probe: Probe) -> dict[str, Any]:
    """One run's buffers (EXPLAIN ANALYZE BUFFERS), rows, and sequential scans of the outbox tables, counted by the
    transaction's own statistics so the foreign keys' cascades (which EXPLAIN does not show) are included."""
    try:
        rows = len(probe.run(conn))
    finally:
        conn.rollback()
    try:
        explained = probe.explain(conn)
        scans = dict(
            conn.exec_driver_sql(
                "SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE relname = ANY(%(tables)s)",
                {"tables": list(TABLES)},
            ).all()
        )
    finally:
        conn.rollback()
    plan = explained["Plan"]
    return {
        "buffers": plan["Shared Hit Blocks"] + plan["Shared Read Blocks"],
        "rows": rows,
        "seq_scans": {table: count for table, count in scans.items() if count},
    }


def _observe_all(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        listed = probes(conn, utcnow(), handlers=HANDLERS, batch_size=500, delivery_batch=20)
        conn.rollback()
        return {probe.name: _observe(conn, probe) for probe in listed}


def test_claims_redrives_and_retention_stay_on_indexes_as_the_history_grows(engine: Engine) -> None:
    with engine.connect() as conn:
        seed_live_set(conn, utcnow())
    _grow(engine, SMALL)
    small = _observe_all(engine)
    _grow(engine, BIG - SMALL)
    big = _observe_all(engine)

    for observed in (small, big):
        assert {name: o["seq_scans"] for name, o in observed.items()} == {name: {} for name in observed}
    for name, observed in big.items():
        # Three times the history: a statement bounded by the live set touches about as many buffers (a b-tree one
        # level deeper costs a buffer per row it inserts or deletes); one that reads the history, ~3×.
        assert observed["buffers"] <= 1.5 * small[name]["buffers"] + 100, (name, small[name], observed)
    # Each statement found its share of the live set (or a full retention batch), in both histories.
    expected = {
        "dispatch claim + fan-out": LIVE["undispatched"] * HANDLERS,
        "due retries": LIVE["retrying_due"],
        "stale enqueued": LIVE["stale_enqueued"],
        "lease reclaim": LIVE["lease_expired"],
        "worker delivery claim": 20,
        "retention outbox batch": DEFAULT_BATCH_SIZE,
        "retention markers batch": DEFAULT_BATCH_SIZE,
    }
    assert {name: observed["rows"] for name, observed in small.items()} == expected
    assert {name: observed["rows"] for name, observed in big.items()} == expected
