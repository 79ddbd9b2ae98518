"""Running one delivery (one event for one handler) with at-least-once delivery and effectively-once effect.

Three short transactions, each with one job:

1. ``claim`` counts the attempt durably *before* the handler runs, so a worker SIGKILLed mid-handler still spent
   an attempt (Dramatiq would not have counted it).
2. ``process`` commits the handler's own writes, the ``processed (event_id, handler)`` marker and the events the
   handler emitted together; a redelivered message finds the marker and has no second effect.
3. ``fail`` schedules the next try (full-jitter backoff, kept in Postgres) or, after the last attempt, moves the
   delivery to the DLQ with its envelope, error and traceback.

Deliveries of one message whose handlers are declared ``db_only`` share step 2: one transaction loads and marks them
all, runs each handler and commits once. That is what a delivery mostly cost (its BEGIN, load, done-mark and COMMIT
round trips, and a commit's WAL flush), and it changes nothing a redelivery can see: every effect and marker of the
group commits together or not at all. If any of them fails, the group is rolled back and each delivery runs again in
a transaction of its own, so a failure is retried (or dead-lettered) alone and the others still commit.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback as traceback_module
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import structlog
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import execute_autocommitted
from db.metrics import DELIVERY_GROUP_FALLBACKS
from domain.events.catalog import CATALOG
from domain.events.envelope import Envelope, utcnow
from domain.events.handling import HandlerContext, TooEarly
from workers.registry import Registry
from workers.retry import backoff_seconds

logger = logging.getLogger("nmc.worker")

# The attempt must survive a SIGKILLed worker, not a Postgres crash: an asynchronous commit (set for this transaction
# only, inside the same statement) keeps the claim off the fsync path; a database crash could under-count one attempt.
#
# The claim is a transaction of its own in one statement, so one round trip. The other two statements every delivery
# runs go straight to psycopg on the handler session's own connection: through the ORM session each cost about half
# a millisecond of CPU, which was most of a delivery's cost.
_CLAIM = """
    UPDATE outbox_deliveries d
       SET status = 'processing', attempts = attempts + 1, started_at = %(now)s, lease_until = %(lease_until)s
      FROM outbox_events e, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
     WHERE d.id = ANY(%(ids)s) AND d.status = 'enqueued' AND e.event_id = d.event_id
 RETURNING d.id, d.attempts, d.handler, d.event_id, e.created_at
"""

# Load the events and write the processed markers in one round trip, for one delivery or a group; `fresh` is false
# where an earlier attempt already committed that handler's effect. The markers are inserted in key order, so two
# transactions inserting overlapping markers (a duplicate message) queue behind each other instead of deadlocking.
_LOAD_AND_MARK = """
    WITH target AS (
        SELECT id, handler, event_id, attempts FROM outbox_deliveries WHERE id = ANY(%(ids)s)
    ), marked AS (
        INSERT INTO processed_events (event_id, handler)
        SELECT event_id, handler FROM target ORDER BY event_id, handler
        ON CONFLICT DO NOTHING RETURNING event_id, handler
    )
    SELECT t.id, t.handler, t.attempts, e.event_id, e.event_name, e.schema_version, e.tenant_id, e.occurred_at,
           e.correlation_id, e.causation_id, e.payload,
           EXISTS (SELECT 1 FROM marked m WHERE m.event_id = t.event_id AND m.handler = t.handler) AS fresh
      FROM target t JOIN outbox_events e ON e.event_id = t.event_id
"""

_DONE = """
    UPDATE outbox_deliveries SET status = 'done', completed_at = %(now)s, lease_until = NULL WHERE id = ANY(%(ids)s)
"""


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    attempts: int
    handler: str
    event_id: uuid.UUID
    event_created_at: datetime


@dataclass(frozen=True)
class DeliveryResult:
    handler: str
    outcome: str  # done | retry | dead
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """What ``fail`` decided: retry at ``next_attempt_at``, or dead-lettered."""

    dead: bool
    attempts: int
    next_attempt_at: datetime | None


def envelope_from_row(row: Any) -> Envelope:
    return Envelope(
        event_id=row.event_id,
        event_name=row.event_name,
        schema_version=row.schema_version,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        payload=row.payload,
    )


class DeliveryRunner:
    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        registry: Registry,
        *,
        max_attempts: int,
        lease_seconds: int,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._registry = registry
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._rng = rng

    def warm_up(self, connections: int) -> None:
        """Open ``connections`` pooled connections and run the claim and the load-and-mark on each, for no delivery,
        before the worker takes its first message. A new connection costs its setup (TCP, authentication, a forked
        backend) and its backend's first look at the delivery tables and indexes (catalog caches): on a loaded
        2-core box that put the first deliveries after every start at 30-60 ms, 5 % of a 10 s run at 200 events/s.
        Best effort: a database that is not up yet is met, and reported, by the first delivery as before."""
        opened = []
        try:
            for _ in range(connections):
                pooled = self._engine.raw_connection()
                opened.append(pooled)
                driver = pooled.driver_connection
                assert isinstance(driver, psycopg.Connection)
                with driver.transaction(force_rollback=True):
                    driver.execute(_CLAIM, {"ids": [], "now": self._clock(), "lease_until": self._clock()})
                    driver.execute(_LOAD_AND_MARK, {"ids": []})
        except (psycopg.Error, DBAPIError, OSError) as error:
            logger.warning("could not open the worker's connections ahead of its first delivery: %s", error)
        finally:
            for pooled in opened:
                pooled.close()  # back to the pool, still open

    def claim(self, delivery_id: uuid.UUID) -> Claim | None:
        """Count the attempt and take the lease; None when the delivery is not ours to run (done, dead, taken)."""
        claims = self.claim_many([delivery_id])
        return claims[0] if claims else None

    def claim_many(self, delivery_ids: list[uuid.UUID]) -> list[Claim]:
        """Claim a batch in one statement (its own transaction); deliveries not ours to run (done, dead, taken) are
        left out."""
        now = self._clock()
        rows = execute_autocommitted(
            self._engine, _CLAIM, {"ids": delivery_ids, "now": now, "lease_until": now + self._lease}
        )
        order = {delivery_id: index for index, delivery_id in enumerate(delivery_ids)}
        claims = [Claim(row.id, row.attempts, row.handler, row.event_id, row.created_at) for row in rows]
        return sorted(claims, key=lambda claim: order[claim.delivery_id])

    def run_claimed(self, claims: list[Claim]) -> list[DeliveryResult]:
        """Run the claimed deliveries in their order: consecutive ``db_only`` ones in one transaction, every other
        one in its own. A failing handler schedules its own retry or DLQ entry and does not stop the others."""
        results: list[DeliveryResult] = []
        group: list[Claim] = []
        for claim in claims:
            if self._registry.db_only(claim.handler):
                group.append(claim)
                continue
            results.extend(self._run_group(group))
            group = []
            results.append(self._run_alone(claim))
        results.extend(self._run_group(group))
        return results

    def _run_group(self, group: list[Claim]) -> list[DeliveryResult]:
        if len(group) < 2:
            return [self._run_alone(claim) for claim in group]
        try:
            timings = self.process_group([claim.delivery_id for claim in group])
        except Exception as error:
            DELIVERY_GROUP_FALLBACKS.inc()
            logger.info("a group of %d deliveries was rolled back, running each alone: %s", len(group), error)
            return [self._run_alone(claim) for claim in group]
        return [DeliveryResult(handler, "done", seconds) for handler, seconds in timings]

    def _run_alone(self, claim: Claim) -> DeliveryResult:
        started = time.perf_counter()
        try:
            self.process(claim.delivery_id)
        except Exception as error:
            outcome = self.fail(claim.delivery_id, error)
            log = logger.error if outcome.dead else logger.info if isinstance(error, TooEarly) else logger.warning
            log("delivery %s (%s) failed on attempt %d: %s", claim.delivery_id, claim.handler, outcome.attempts, error)
            status = "dead" if outcome.dead else "retry"
        else:
            status = "done"
        return DeliveryResult(claim.handler, status, time.perf_counter() - started)

    def process(self, delivery_id: uuid.UUID) -> bool:
        """Run the handler; True if it ran, False if an earlier attempt had already committed its effect."""
        ((_, _, fresh),) = self._process_together([delivery_id])
        return fresh

    def process_group(self, delivery_ids: list[uuid.UUID]) -> list[tuple[str, float]]:
        """Run ``db_only`` deliveries in ONE transaction (any failure rolls all of it back and propagates); each
        handler's name and seconds, in the order they ran."""
        return [(handler, seconds) for handler, seconds, _ in self._process_together(delivery_ids)]

    def _process_together(self, delivery_ids: list[uuid.UUID]) -> list[tuple[str, float, bool]]:
        """Load, mark, run and mark done ``delivery_ids`` in one transaction; each handler's name, seconds and
        whether it ran (not already committed by an earlier attempt), in the order they ran.

        They run tenant by tenant, each tenant's in the given order: two groups then take tenants' row locks in the
        same order, where the message's order could have them deadlock (which Postgres would break, at a cost of
        its deadlock_timeout and a fallback)."""
        position = {delivery_id: index for index, delivery_id in enumerate(delivery_ids)}
        ran = []
        committed: list[Callable[[], None]] = []
        with self._sessions() as session, session.begin():
            cursor = _cursor(session)
            # BEGIN and the load-and-mark in one round trip (psycopg sends BEGIN on its own otherwise): two
            # wake-ups fewer before the first handler runs, which on a loaded box is what a steady-load tail is.
            with cursor.connection.pipeline():
                rows = cursor.execute(_LOAD_AND_MARK, {"ids": delivery_ids}).fetchall()
            if len(rows) != len(delivery_ids):
                missing = sorted(set(position) - {row.id for row in rows}, key=position.__getitem__)
                raise LookupError(f"deliveries {', '.join(map(str, missing))} do not exist")
            rows.sort(key=lambda row: (-1 if row.tenant_id is None else row.tenant_id.int, position[row.id]))
            for row in rows:
                started = time.perf_counter()
                if row.fresh:
                    committed.extend(self._call_handler(session, row))
                ran.append((row.handler, time.perf_counter() - started, bool(row.fresh)))
            cursor.execute(_DONE, {"ids": delivery_ids, "now": self._clock()})
        # Only now is the effect real: an attempt that failed before here (or a group rolled back to run one by one)
        # recorded nothing, so a retried delivery's metrics count once.
        _run_after_commit(committed)
        return ran

    def _call_handler(self, session: Session, row: Any) -> list[Callable[[], None]]:
        """Run one handler in ``session``; what it asked to run after the commit."""
        envelope = envelope_from_row(row)
        # The stored payload is validated against the catalog before any handler sees it.
        payload = CATALOG.load_payload(envelope.event_name, envelope.schema_version, envelope.payload)
        handler = self._registry.handler(row.handler, envelope.event_name)
        with structlog.contextvars.bound_contextvars(
            tenant_id=None if envelope.tenant_id is None else str(envelope.tenant_id),
            correlation_id=str(envelope.correlation_id),
            causation_id=None if envelope.causation_id is None else str(envelope.causation_id),
            event_id=str(envelope.event_id),
            handler=row.handler,
        ):
            ctx = HandlerContext(session=session, envelope=envelope, attempt=row.attempts)
            handler.call(payload, ctx)
        session.flush()
        return ctx.committed

    def fail(self, delivery_id: uuid.UUID, error: BaseException, *, lost: bool = False) -> Outcome:
        """Record a failed attempt: schedule the retry in Postgres, or dead-letter after the last attempt."""
        message = f"{type(error).__name__}: {error}"[:2000]
        trace = "".join(traceback_module.format_exception(error))[-20_000:]
        with self._sessions() as session, session.begin():
            return fail_delivery(
                session,
                delivery_id,
                last_error=message,
                traceback=trace,
                max_attempts=self._max_attempts,
                now=self._clock(),
                rng=self._rng,
                lost=lost,
            )


def _run_after_commit(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The delivery has committed: a metric that cannot be recorded must not turn it into a retry.
            logger.exception("an after-commit callback failed")


def _cursor(session: Session) -> psycopg.Cursor[Any]:
    """A psycopg cursor (rows as named tuples) on the session's connection, inside its transaction."""
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver.cursor(row_factory=namedtuple_row)


def fail_delivery(
    session: Session,
    delivery_id: uuid.UUID,
    *,
    last_error: str,
    traceback: str,
    max_attempts: int,
    now: datetime,
    rng: Callable[[], float],
    lost: bool = False,
) -> Outcome:
    row = session.execute(
        text(
            "SELECT d.attempts, d.status, d.handler, e.event_id, e.event_name, e.schema_version, e.tenant_id,"
            " e.occurred_at, e.correlation_id, e.causation_id, e.payload"
            " FROM outbox_deliveries d JOIN outbox_events e ON e.event_id = d.event_id"
            " WHERE d.id = :id FOR UPDATE OF d"
        ),
        {"id": delivery_id},
    ).one()
    if row.status != "processing" and not lost:
        # Already settled (e.g. the redriver declared the worker lost first): never count one attempt twice.
        return Outcome(dead=row.status == "dead", attempts=row.attempts, next_attempt_at=None)
    if row.attempts >= max_attempts:
        session.execute(
            text(
                "UPDATE outbox_deliveries SET status = 'dead', lease_until = NULL, last_error = :error,"
                " completed_at = :now WHERE id = :id"
            ),
            {"id": delivery_id, "error": last_error, "now": now},
        )
        session.execute(
            text(
                "INSERT INTO dead_letters (id, delivery_id, event_id, event_name, handler, tenant_id, envelope,"
                " attempts, last_error, traceback, dead_at)"
                " VALUES (:id, :delivery_id, :event_id, :event_name, :handler, :tenant_id, CAST(:envelope AS jsonb),"
                " :attempts, :error, :traceback, :now)"
            ),
            {
                "id": uuid.uuid4(),
                "delivery_id": delivery_id,
                "event_id": row.event_id,
                "event_name": row.event_name,
                "handler": row.handler,
                "tenant_id": row.tenant_id,
                "envelope": json.dumps(envelope_from_row(row).to_json()),
                "attempts": row.attempts,
                "error": last_error,
                "traceback": traceback,
                "now": now,
            },
        )
        return Outcome(dead=True, attempts=row.attempts, next_attempt_at=None)
    next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts, rng=rng))
    session.execute(
        text(
            "UPDATE outbox_deliveries SET status = 'retrying', lease_until = NULL, last_error = :error,"
            " next_attempt_at = :next WHERE id = :id"
        ),
        {"id": delivery_id, "error": last_error, "next": next_attempt_at},
    )
    return Outcome(dead=False, attempts=row.attempts, next_attempt_at=next_attempt_at)
