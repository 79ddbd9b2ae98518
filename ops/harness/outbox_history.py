"""An outbox with a history: millions of done events (their done deliveries and processed markers), a small live set
of every delivery state, and the dispatcher's, workers' and retention's own statements to run against it.

Shared by `nmc bench outbox-history` (which times the statements against a small and a big history) and the
integration test that checks their plans stay on index paths bounded by the live set. Everything is set-based SQL
(``generate_series``) so ten million rows take minutes, not hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, TextClause, text

from db.retention import DEFAULT_BATCH_SIZE, RULES, batch_statement
from workers.delivery import _CLAIM
from workers.dispatcher import _DISPATCH, _DUE_RETRIES, _LOST_LEASES, _STALE_ENQUEUED, QUEUE_ORDER_GRACE_SECONDS

EVENT_NAME = "nmc.bench.HistoryEvent"
CHURN_EVENT_NAME = "nmc.bench.HistoryChurn"
QUEUE = "default"
TABLES = ("outbox_events", "outbox_deliveries", "processed_events", "dead_letters")
RETENTION_DAYS = 30
# The live set both databases carry, by kind: what a busy minute leaves in flight.
LIVE = {
    "undispatched": 200,
    "enqueued": 200,
    "stale_enqueued": 20,
    "retrying_due": 20,
    "retrying_later": 50,
    "processing": 50,
    "lease_expired": 10,
}
# One delivery in this many died and was replayed: the dead letters stay 180 days, so they grow with the history.
DEAD_LETTER_EVERY = 5_000
_TENANTS = [uuid.UUID(int=index + 1) for index in range(20)]


def handler_names(per_event: int) -> list[str]:
    return [f"bench.history_{index}" for index in range(per_event)]


# One chunk of history: events spread evenly over [end - span, end], each with one done delivery per handler and its
# processed marker, and a replayed dead letter for one delivery in DEAD_LETTER_EVERY, in one statement. Foreign-key
# triggers are off for the session (replica role) when allowed: the rows are consistent by construction and the
# per-row checks would double the fill time.
_FILL_CHUNK = """
    WITH e AS (
        INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id,
                                   payload, created_at, dispatched_at)
        SELECT nmc_uuid_v7(t), %(event_name)s, 1, (%(tenants)s::uuid[])[1 + mod(g, 20)], t, gen_random_uuid(),
               jsonb_build_object('call_sid', 'CA' || md5(g::text), 'from', '+1310555' || lpad(mod(g, 10000)::text, 4,
                                  '0'), 'body', repeat('x', 120)),
               t, t + interval '20 milliseconds'
          FROM (SELECT g, %(end)s - %(span)s * (1 - g::float8 / %(total)s) AS t
                  FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS g) AS s
        RETURNING event_id, dispatched_at
    ), d AS (
        INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, attempts, next_attempt_at, enqueued_at,
                                       created_at, started_at, completed_at)
        SELECT nmc_uuid_v7(e.dispatched_at), e.event_id, h.handler, %(queue)s, 'done', 1, e.dispatched_at,
               e.dispatched_at, e.dispatched_at, e.dispatched_at + interval '5 milliseconds',
               e.dispatched_at + interval '30 milliseconds'
          FROM e CROSS JOIN unnest(%(handlers)s::text[]) AS h(handler)
        RETURNING id, event_id, handler, completed_at
    ), p AS (
        INSERT INTO processed_events (event_id, handler, processed_at) SELECT event_id, handler, completed_at FROM d
    )
    INSERT INTO dead_letters (id, delivery_id, event_id, event_name, handler, envelope, attempts, last_error,
                              traceback, dead_at, replayed_at)
    SELECT gen_random_uuid(), d.id, d.event_id, %(event_name)s, d.handler, '{}'::jsonb, 8, 'TimeoutError: bench',
           repeat('Traceback line ', 40), d.completed_at, d.completed_at + interval '1 hour'
      FROM d WHERE mod(abs(hashtext(d.id::text)), %(dead_every)s) = 0
"""


def fill_history(
    conn: Connection,
    events: int,
    *,
    handlers: int,
    end: datetime,
    span: timedelta,
    chunk: int = 500_000,
    dead_every: int = DEAD_LETTER_EVERY,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Append ``events`` done events (``handlers`` done deliveries and markers each), committing every ``chunk``."""
    _replica_role(conn)
    for low in range(1, events + 1, chunk):
        high = min(events, low + chunk - 1)
        conn.exec_driver_sql(
            _FILL_CHUNK,
            {
                "event_name": EVENT_NAME,
                "tenants": _TENANTS,
                "end": end,
                "span": span,
                "total": events,
                "low": low,
                "high": high,
                "queue": QUEUE,
                "handlers": handler_names(handlers),
                "dead_every": dead_every,
            },
        )
        conn.commit()
        if progress is not None:
            progress(high)
    conn.exec_driver_sql("RESET session_replication_role")
    conn.commit()


def _replica_role(conn: Connection) -> None:
    try:
        conn.exec_driver_sql("SET session_replication_role = replica")
    except Exception:  # not a superuser: the fill is only slower, with the foreign keys checked
        conn.rollback()


_LIVE_EVENTS = """
    INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, payload,
                               created_at, dispatched_at)
    SELECT nmc_uuid_v7(%(at)s), %(event_name)s, 1, (%(tenants)s::uuid[])[1 + mod(g, 20)], %(at)s, gen_random_uuid(),
           jsonb_build_object('n', g), %(at)s, %(dispatched_at)s
      FROM generate_series(1, %(count)s::int) AS g
    RETURNING event_id
"""

_LIVE_DELIVERIES = (
    """
    WITH e AS ("""
    + _LIVE_EVENTS
    + """)
    INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, attempts, next_attempt_at, enqueued_at,
                                   lease_until, created_at, started_at)
    SELECT nmc_uuid_v7(%(at)s), e.event_id, %(handler)s, %(queue)s, %(status)s, %(attempts)s, %(next_attempt_at)s,
           %(enqueued_at)s, %(lease_until)s, %(at)s, %(started_at)s
      FROM e
"""
)


def seed_live_set(conn: Connection, now: datetime, scale: int = 1) -> None:
    """The in-flight rows the claims look for (``LIVE`` × ``scale``), around ``now``."""
    second = timedelta(seconds=1)
    conn.exec_driver_sql(
        _LIVE_EVENTS,
        {
            "event_name": EVENT_NAME,
            "tenants": _TENANTS,
            "at": now - second,
            "dispatched_at": None,
            "count": LIVE["undispatched"] * scale,
        },
    )
    kinds: dict[str, tuple[str, datetime, datetime | None, datetime | None]] = {
        # kind: status, enqueued_at, lease_until, next_attempt_at (None: enqueued_at)
        "enqueued": ("enqueued", now - second, None, None),
        "stale_enqueued": ("enqueued", now - timedelta(minutes=10), None, None),
        "retrying_due": ("retrying", now - timedelta(minutes=1), None, now - 5 * second),
        "retrying_later": ("retrying", now - timedelta(minutes=1), None, now + timedelta(minutes=5)),
        "processing": ("processing", now - 2 * second, now + timedelta(minutes=2), None),
        "lease_expired": ("processing", now - timedelta(minutes=5), now - timedelta(minutes=1), None),
    }
    for kind, (status, enqueued_at, lease_until, next_attempt_at) in kinds.items():
        conn.exec_driver_sql(
            _LIVE_DELIVERIES,
            {
                "event_name": EVENT_NAME,
                "tenants": _TENANTS,
                "at": enqueued_at,
                "dispatched_at": enqueued_at,
                "count": LIVE[kind] * scale,
                "handler": handler_names(1)[0],
                "queue": QUEUE,
                "status": status,
                "attempts": 0 if status == "enqueued" else 1,
                "next_attempt_at": next_attempt_at or enqueued_at,
                "enqueued_at": enqueued_at,
                "lease_until": lease_until,
                "started_at": enqueued_at if status == "processing" else None,
            },
        )
    conn.commit()


# One chunk of traffic since the last vacuum, set-based but with the row versions the real path leaves: events
# appended then dispatched, their deliveries enqueued, claimed (processing) and done, and the markers written.
_CHURN_STEPS = (
    """
    INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, payload)
    SELECT nmc_uuid_v7(%(now)s), %(churn_name)s, 1, NULL, %(now)s, gen_random_uuid(), jsonb_build_object('n', g)
      FROM generate_series(1, %(count)s::int) AS g
    """,
    "UPDATE outbox_events SET dispatched_at = %(now)s WHERE dispatched_at IS NULL AND event_name = %(churn_name)s",
    """
    INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, enqueued_at, next_attempt_at)
    SELECT nmc_uuid_v7(%(now)s), e.event_id, h.handler, %(queue)s, 'enqueued', %(now)s, %(now)s
      FROM outbox_events e CROSS JOIN unnest(%(handlers)s::text[]) AS h(handler)
     WHERE e.event_name = %(churn_name)s AND e.dispatched_at = %(now)s
    """,
    """
    UPDATE outbox_deliveries SET status = 'processing', attempts = 1, started_at = %(now)s, lease_until = %(now)s
     WHERE status = 'enqueued' AND enqueued_at = %(now)s AND handler = ANY(%(handlers)s)
    """,
    """
    UPDATE outbox_deliveries SET status = 'done', completed_at = %(now)s, lease_until = NULL
     WHERE status = 'processing' AND started_at = %(now)s AND handler = ANY(%(handlers)s)
    """,
    """
    INSERT INTO processed_events (event_id, handler, processed_at)
    SELECT d.event_id, d.handler, %(now)s
      FROM outbox_events e JOIN outbox_deliveries d ON d.event_id = e.event_id
     WHERE e.event_name = %(churn_name)s AND e.dispatched_at = %(now)s
    """,
)


def churn(conn: Connection, lifecycles: int, *, handlers: int, now: datetime) -> None:
    """Run ``lifecycles`` events through dispatch, claim and done (one transaction); ``now`` must be new each call."""
    params = {"churn_name": CHURN_EVENT_NAME, "now": now, "count": lifecycles, "queue": QUEUE}
    for step in _CHURN_STEPS:
        conn.exec_driver_sql(step, params | {"handlers": handler_names(handlers)})
    conn.commit()


@dataclass(frozen=True)
class Probe:
    """One claim, re-drive or retention statement with its parameters, run inside a transaction it does not own."""

    name: str
    statement: str | TextClause
    params: dict[str, Any] = field(default_factory=dict)

    def run(self, conn: Connection, prefix: str = "") -> list[Any]:
        if isinstance(self.statement, TextClause):
            result = conn.execute(text(prefix + self.statement.text), self.params)
        else:
            result = conn.exec_driver_sql(prefix + self.statement, self.params)
        if result.returns_rows:
            return list(result.all())
        return [None] * int(getattr(result, "rowcount", 0) or 0)  # a DELETE without RETURNING: one per row

    def explain(self, conn: Connection) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) of one run: its ``Plan`` tree and ``Triggers`` (the caller rolls back)."""
        rows = self.run(conn, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ")
        return dict(rows[0][0][0])


def probes(conn: Connection, now: datetime, *, handlers: int, batch_size: int, delivery_batch: int) -> list[Probe]:
    """The statements whose cost must not grow with the history, parameterised as the running system binds them."""
    subscriptions = Jsonb(
        [
            {"event_name": EVENT_NAME, "handler": name, "queue": QUEUE, "position": position}
            for position, name in enumerate(handler_names(handlers))
        ]
    )
    enqueued = (
        conn.exec_driver_sql(
            "SELECT id FROM outbox_deliveries WHERE status = 'enqueued' ORDER BY enqueued_at DESC LIMIT %(limit)s",
            {"limit": delivery_batch},
        )
        .scalars()
        .all()
    )
    rules = {rule.name: rule for rule in RULES}
    cutoff = now - timedelta(days=RETENTION_DAYS)
    retention = {"cutoff": cutoff, "limit": DEFAULT_BATCH_SIZE, "now": now}
    return [
        Probe("dispatch claim + fan-out", _DISPATCH, {"limit": batch_size, "now": now, "subscriptions": subscriptions}),
        Probe("due retries", _DUE_RETRIES, {"now": now, "limit": batch_size}),
        Probe(
            "stale enqueued",
            _STALE_ENQUEUED,
            {
                "now": now,
                "stale_before": now - timedelta(seconds=30),
                "queues": [QUEUE],
                "waiting_since": [None],
                "grace_seconds": QUEUE_ORDER_GRACE_SECONDS,
                "limit": batch_size,
            },
        ),
        Probe("lease reclaim", _LOST_LEASES, {"now": now, "limit": batch_size}),
        Probe(
            "worker delivery claim",
            _CLAIM,
            {"ids": list(enqueued), "now": now, "lease_until": now + timedelta(minutes=2)},
        ),
        Probe("retention outbox batch", text(batch_statement(rules["outbox_events"])), retention),
        Probe("retention markers batch", text(batch_statement(rules["processed_events"])), retention),
    ]
