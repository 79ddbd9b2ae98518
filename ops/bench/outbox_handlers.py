"""The handler `nmc bench outbox` measures: it records when it started, nothing else.

Declared ``db_only`` (its one effect is a write through its session), as the projections are, so the worker runs a
message's deliveries of it in one transaction. ``outbox_handlers_isolated`` subscribes the same function without
that promise: one transaction per delivery, as for a handler that calls out.
"""

from __future__ import annotations

import psycopg

from domain.events.catalog import TenantCreated
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("bench")

CREATE_TABLE = (
    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_handler_starts (event_id uuid PRIMARY KEY, started_at double precision)"
)
# The start is written in the handler's own transaction (so it counts only if the delivery committed), in plain
# psycopg on the session's connection: the bench measures the pipeline, not the ORM's cost of one INSERT.
_RECORD_START = "INSERT INTO bench_handler_starts VALUES (%s, extract(epoch FROM clock_timestamp()))"


def record_start(event: TenantCreated, ctx: HandlerContext) -> None:
    connection = ctx.session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)
    connection.execute(_RECORD_START, (ctx.envelope.event_id,))


subscriptions.on(TenantCreated, db_only=True)(record_start)
