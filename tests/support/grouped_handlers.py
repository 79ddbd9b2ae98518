"""Handlers for the delivery-group tests: two ``db_only`` handlers and one that is not, all on ``TenantCreated``.

``TenantCreated.name`` is the script, as in ``pipeline_handlers``: ``ok``, ``fail:always`` (``project`` fails) or
``kill:N`` (``count`` SIGKILLs its worker on attempt N, after ``project``'s write in the same group). Every effect
records its attempt and the transaction it was written in, so a test can tell which deliveries shared one; the
``db_only`` ones also ask to note ``(event_id, handler)`` in ``COMMITTED`` after their commit, as a metric would.
"""

from __future__ import annotations

import os
import signal
import uuid

from sqlalchemy import text

from domain.events.catalog import TenantCreated
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("grouped")
COMMITTED: list[tuple[uuid.UUID, str]] = []

CREATE_GROUP_EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS test_group_effects (
    seq bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    tenant_id uuid,
    handler text NOT NULL,
    attempt int NOT NULL,
    txid bigint NOT NULL DEFAULT txid_current()
)
"""


def _record(ctx: HandlerContext, handler: str) -> None:
    ctx.session.execute(
        text("INSERT INTO test_group_effects (event_id, tenant_id, handler, attempt) VALUES (:e, :t, :h, :a)"),
        {"e": ctx.envelope.event_id, "t": ctx.tenant_id, "h": handler, "a": ctx.attempt},
    )
    event_id = ctx.envelope.event_id
    ctx.after_commit(lambda: COMMITTED.append((event_id, handler)))


@subscriptions.on(TenantCreated, db_only=True)
def project(event: TenantCreated, ctx: HandlerContext) -> None:
    _record(ctx, "grouped.project")
    if event.name == "fail:always":
        raise RuntimeError("scripted failure")


@subscriptions.on(TenantCreated, db_only=True)
def count(event: TenantCreated, ctx: HandlerContext) -> None:
    if event.name == f"kill:{ctx.attempt}":
        os.kill(os.getpid(), signal.SIGKILL)
    _record(ctx, "grouped.count")


@subscriptions.on(TenantCreated)
def call_out(event: TenantCreated, ctx: HandlerContext) -> None:
    _record(ctx, "grouped.call_out")
