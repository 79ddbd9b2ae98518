"""Handlers for pipeline tests, steered by the event payload so a subprocess worker can be told what to do.

``TenantCreated.name`` is the script: ``ok``; ``fail:N`` (fail while the durable attempt count ≤ N);
``fail:always``; ``early:always`` (raise :class:`TooEarly`, the race a handler expects); ``fail:while-broken``
(while ``test_broken`` has a row: a bug an operator then fixes);
``kill:N`` (SIGKILL this worker process on attempt N, mid-handler, after writing its effect in the still-open
transaction); ``sleep:S``. Effects go to ``test_effects`` so tests can count them.
"""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import text

from domain.events.catalog import TenantCreated
from domain.events.handling import HandlerContext, Subscriptions, TooEarly

subscriptions = Subscriptions("testing")

CREATE_EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS test_effects (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    handler text NOT NULL,
    attempt int NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS test_broken (reason text)
"""


def _attempt(ctx: HandlerContext, handler: str) -> int:
    return int(
        ctx.session.execute(
            text("SELECT attempts FROM outbox_deliveries WHERE event_id = :e AND handler = :h"),
            {"e": ctx.envelope.event_id, "h": handler},
        ).scalar_one()
    )


def _record(ctx: HandlerContext, handler: str, attempt: int) -> None:
    ctx.session.execute(
        text("INSERT INTO test_effects (event_id, handler, attempt) VALUES (:e, :h, :a)"),
        {"e": ctx.envelope.event_id, "h": handler, "a": attempt},
    )


@subscriptions.on(TenantCreated)
def follow_script(event: TenantCreated, ctx: HandlerContext) -> None:
    handler = "testing.follow_script"
    attempt = _attempt(ctx, handler)
    verb, _, argument = event.name.partition(":")
    _record(ctx, handler, attempt)
    ctx.session.flush()
    if verb == "fail" and argument == "while-broken":
        if ctx.session.execute(text("SELECT count(*) FROM test_broken")).scalar_one():
            raise RuntimeError(f"scripted failure on attempt {attempt}")
    elif verb == "fail" and (argument == "always" or attempt <= int(argument)):
        raise RuntimeError(f"scripted failure on attempt {attempt}")
    if verb == "early":
        raise TooEarly(f"scripted race on attempt {attempt}")
    if verb == "kill" and attempt == int(argument):
        os.kill(os.getpid(), signal.SIGKILL)
    if verb == "sleep":
        time.sleep(float(argument))


@subscriptions.on(TenantCreated)
def count_once(event: TenantCreated, ctx: HandlerContext) -> None:
    _record(ctx, "testing.count_once", _attempt(ctx, "testing.count_once"))
