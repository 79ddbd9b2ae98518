"""The handler `nmc bench outbox` measures: it records when it started, nothing else."""

from __future__ import annotations

from sqlalchemy import text

from domain.events.catalog import TenantCreated
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("bench")

CREATE_TABLE = (
    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_handler_starts (event_id uuid PRIMARY KEY, started_at double precision)"
)


@subscriptions.on(TenantCreated)
def record_start(event: TenantCreated, ctx: HandlerContext) -> None:
    ctx.session.execute(
        text("INSERT INTO bench_handler_starts VALUES (:e, extract(epoch FROM clock_timestamp()))"),
        {"e": ctx.envelope.event_id},
    )
