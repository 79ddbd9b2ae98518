"""The one way tests run the pipeline by hand: dispatch, then claim and process each delivery, synchronously.

What the Dramatiq middleware and actor do for one message, without Redis in the way, so a test can act between two
steps (a takeover between a reply's queueing and its send, a kill between claim and commit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from workers.delivery import DeliveryRunner
from workers.dispatcher import Dispatcher


@dataclass(frozen=True)
class Ran:
    outcome: str  # skipped (another claim holds it, or it is finished), done, retry or dead
    error: Exception | None = None


def run_delivery(runner: DeliveryRunner, delivery_id: uuid.UUID) -> Ran:
    """Claim and process one delivery; a failure is recorded as the worker would (retry, or dead at the cap)."""
    if runner.claim(delivery_id) is None:
        return Ran("skipped")
    try:
        runner.process(delivery_id)
    except Exception as error:
        return Ran("dead" if runner.fail(delivery_id, error).dead else "retry", error)
    return Ran("done")


def drain(
    dispatcher: Dispatcher,
    runner: DeliveryRunner,
    sessions: sessionmaker[Session],
    *,
    only: str | None = None,
    rounds: int = 20,
) -> list[str]:
    """Dispatch and run every pending delivery (or only those of handler ``only``) until none is left, following the
    events they emit for up to ``rounds`` rounds; returns ``handler:done`` or ``handler:failed:<Error>`` for each."""
    outcomes: list[str] = []
    for _ in range(rounds):
        dispatcher.dispatch_batch()
        with sessions() as session:
            query = "SELECT id, handler FROM outbox_deliveries WHERE status = 'enqueued'"
            pending = [row for row in session.execute(text(query)).all() if only is None or row.handler == only]
        if not pending:
            return outcomes
        for row in pending:
            ran = run_delivery(runner, row.id)
            if ran.outcome == "skipped":
                continue
            failed = "" if ran.error is None else f":failed:{type(ran.error).__name__}"
            outcomes.append(f"{row.handler}{failed or ':done'}")
    return outcomes
