"""The Outbox Dispatcher: drains ``outbox_events`` into one delivery per (event, subscribed handler).

Claiming uses ``FOR UPDATE SKIP LOCKED``, so any number of dispatchers can run at once; the claim, the
``dispatched_at`` mark and the delivery rows commit together, so a dispatcher killed between claim and commit
leaves the events for the next one, and the unique (event_id, handler) makes a second fan-out impossible.
Messages go to Redis only after that commit; a message lost in between is re-sent by the redriver, which is also
what re-drives retries (their schedule lives in Postgres, not in Dramatiq).

The fan-out commits asynchronously (no fsync wait): if Postgres crashed and lost it, the events would simply be
dispatched again, and the processed (event_id, handler) markers, which commit synchronously with the handlers'
effects, stop any second effect.
"""

from __future__ import annotations

import logging
import random
import select
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import execute_autocommitted
from db.metrics import OUTBOX_DISPATCHED
from domain.events.envelope import utcnow
from workers.broker import delivery_message
from workers.delivery import fail_delivery
from workers.registry import Registry

logger = logging.getLogger("nmc.dispatcher")
MAX_RACE_PAUSE_SECONDS = 0.020
# Several dispatchers push their batches in whatever order their commits finish: a queue's order is FIFO only to
# within this margin of the deliveries' enqueued_at.
QUEUE_ORDER_GRACE_SECONDS = 5.0

# Claim a batch, mark it dispatched and fan it out to one delivery per subscribed handler, in ONE statement and so
# one transaction and one round trip: a dispatcher killed at any point leaves either all of it or none of it, and the
# unique (event_id, handler) makes a second fan-out impossible. The batch's stats come back on every row (one row,
# with no delivery, when the batch has none).
_DISPATCH = """
    WITH claimed AS (
        SELECT event_id FROM outbox_events, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
         WHERE dispatched_at IS NULL
         ORDER BY seq
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE outbox_events e SET dispatched_at = %(now)s
          FROM claimed WHERE e.event_id = claimed.event_id
        RETURNING e.event_id, e.event_name, e.seq
    ), fanned_out AS (
        INSERT INTO outbox_deliveries (id, event_id, handler, queue, status, enqueued_at, next_attempt_at)
        SELECT nmc_uuid_v7(), m.event_id, s.handler, s.queue, 'enqueued', %(now)s, %(now)s
          FROM marked m JOIN jsonb_to_recordset(%(subscriptions)s)
                             AS s(event_name text, handler text, queue text, position int)
            ON s.event_name = m.event_name
         ORDER BY m.seq, s.position
        ON CONFLICT (event_id, handler) DO NOTHING
        RETURNING id, queue
    )
    SELECT batch.events, batch.newest_seq, d.id, d.queue
      FROM (SELECT count(*) AS events, max(seq) AS newest_seq FROM marked) AS batch
      LEFT JOIN fanned_out d ON true
"""

_DUE_RETRIES = text(
    """
    WITH due AS (
        SELECT id FROM outbox_deliveries
         WHERE status = 'retrying' AND next_attempt_at <= :now
         ORDER BY next_attempt_at
         LIMIT :limit
           FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_deliveries d SET status = 'enqueued', enqueued_at = :now
      FROM due WHERE d.id = due.id
    RETURNING d.id, d.queue
    """
)

# An 'enqueued' delivery whose message never reached Redis (or was lost there) is re-sent once it is older than
# ``stale_before`` and older than the oldest message still waiting in its queue (``waiting_since``): the queues are
# FIFO, so anything enqueued after that head is still in line behind it, and re-sending it would only put a duplicate
# at the back of a backlog (which is how a backlog older than the redrive age used to double itself).
_STALE_ENQUEUED = text(
    """
    WITH queue_heads AS (
        SELECT * FROM unnest(CAST(:queues AS text[]), CAST(:waiting_since AS timestamptz[])) AS h(queue, waiting_since)
    ), stale AS (
        SELECT d.id FROM outbox_deliveries d LEFT JOIN queue_heads h ON h.queue = d.queue
         WHERE d.status = 'enqueued' AND d.enqueued_at < :stale_before
           AND (h.waiting_since IS NULL OR d.enqueued_at < h.waiting_since - make_interval(secs => :grace_seconds))
         LIMIT :limit
           FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE outbox_deliveries d SET enqueued_at = :now
      FROM stale WHERE d.id = stale.id
    RETURNING d.id, d.queue
    """
)

_LOST_LEASES = text(
    """
    SELECT id FROM outbox_deliveries
     WHERE status = 'processing' AND lease_until < :now
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
    """
)


@dataclass
class DispatchStats:
    events: int = 0
    deliveries: int = 0
    redriven: int = 0
    lost: int = 0
    last_dispatch_at: datetime | None = None
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        registry: Registry,
        broker: dramatiq.Broker,
        *,
        batch_size: int,
        max_attempts: int,
        redrive_after_seconds: int,
        delivery_batch_size: int = 1,
        oldest_waiting_at: Callable[[str], datetime | None] = lambda queue: None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._registry = registry
        # Every (event, handler, queue) subscription, as the dispatch statement joins them to the claimed events; the
        # deliveries are created in event order, then in the registry's order of handlers.
        self._subscriptions = Jsonb(
            [
                {"event_name": h.event_name, "handler": h.name, "queue": h.queue, "position": position}
                for position, h in enumerate(registry.handlers())
            ]
        )
        self._broker = broker
        self._oldest_waiting_at = oldest_waiting_at
        self.batch_size = batch_size
        self.delivery_batch_size = delivery_batch_size
        self._max_attempts = max_attempts
        self._redrive_after = timedelta(seconds=redrive_after_seconds)
        self._clock = clock
        self._rng = rng
        self.stats = DispatchStats()
        # The newest outbox seq this dispatcher has claimed: a NOTIFY for nothing newer is about its own past work.
        self.newest_claimed_seq = 0
        for queue in registry.queues:
            broker.declare_queue(queue)

    def dispatch_batch(self) -> int:
        """Fan out one batch of undispatched events; returns how many events were claimed."""
        now = self._clock()
        rows = execute_autocommitted(
            self._engine, _DISPATCH, {"limit": self.batch_size, "now": now, "subscriptions": self._subscriptions}
        )
        events, newest_seq = rows[0].events, rows[0].newest_seq
        created = [row for row in rows if row.id is not None]
        self._send(created, enqueued_at=now, batch=self.delivery_batch_size)
        if events:
            self.newest_claimed_seq = max(self.newest_claimed_seq, newest_seq)
            OUTBOX_DISPATCHED.inc(events)
            self.stats.events += events
            self.stats.deliveries += len(created)
            self.stats.last_dispatch_at = now
        return int(events)

    def redrive(self) -> int:
        """Re-send what is due: scheduled retries, messages that never reached Redis, and lost workers' leases."""
        now = self._clock()
        with self._sessions() as session, session.begin():
            lost = session.execute(_LOST_LEASES, {"now": now, "limit": self.batch_size}).scalars().all()
            for delivery_id in lost:
                fail_delivery(
                    session,
                    delivery_id,
                    last_error="worker lost mid-handler (lease expired)",
                    traceback="",
                    max_attempts=self._max_attempts,
                    now=now,
                    rng=self._rng,
                    lost=True,
                )
        self.stats.lost += len(lost)
        queues = sorted(self._registry.queues)
        # Read before the query: a head read later could be a message this very redrive re-sent.
        waiting_since = [self._oldest_waiting_at(queue) for queue in queues]
        with self._sessions() as session, session.begin():
            due = session.execute(_DUE_RETRIES, {"now": now, "limit": self.batch_size}).all()
            stale = session.execute(
                _STALE_ENQUEUED,
                {
                    "now": now,
                    "stale_before": now - self._redrive_after,
                    "queues": queues,
                    "waiting_since": waiting_since,
                    "grace_seconds": QUEUE_ORDER_GRACE_SECONDS,
                    "limit": self.batch_size,
                },
            ).all()
        self._send([*due, *stale], enqueued_at=now)
        self.stats.redriven += len(due) + len(stale)
        return len(due) + len(stale) + len(lost)

    def _send(self, deliveries: Sequence[Any], *, enqueued_at: datetime, batch: int = 1) -> None:
        """Fresh deliveries go in batches per queue (one message, one claim for many); re-driven ones go alone, so
        a delivery that kills its worker is isolated from the rest on its next try."""
        by_queue: dict[str, list[str]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).append(str(delivery.id))
        for queue, ids in by_queue.items():
            for start in range(0, len(ids), batch):
                # A Redis error here loses nothing: the deliveries stay 'enqueued' and the redriver re-sends them.
                self._broker.enqueue(delivery_message(queue, *ids[start : start + batch], enqueued_at=enqueued_at))


def lost_the_race(notified_seq: int | None, newest_claimed_seq: int) -> bool:
    """Whether an empty claim after this wake-up means another dispatcher took the notified events.

    Only the listening dispatcher is notified, but standbys draining a backlog claim too. A notification for nothing
    newer than what this dispatcher itself claimed is about its own earlier batch (so a lone dispatcher never counts
    as losing); one for something newer that it then did not find was taken by another dispatcher.
    """
    return notified_seq is not None and notified_seq > newest_claimed_seq


def race_pause_seconds(lost_in_a_row: int) -> float:
    """How long a dispatcher that lost ``lost_in_a_row`` races pauses (at most; it waits a random half to all of it):
    5, 10, then 20 ms. The winner keeps the stream and the loser spends less of the machine on empty claims; the cap
    bounds how long an event can wait while the listener pauses (an 80 ms cap, when every dispatcher still listened,
    put the 4-dispatcher P95 at 200 events/s at 59 ms)."""
    return min(MAX_RACE_PAUSE_SECONDS, 0.005 * 2 ** min(max(lost_in_a_row, 1) - 1, 8))


# One dispatcher at a time LISTENs: the one holding this session-level advisory lock on its listening connection.
# When every dispatcher listened, every NOTIFY woke them all and all but one ran an empty claim: with 4 dispatchers
# at 200 events/s that was three wasted claims per event, enough to saturate the 2-core box (P95 0.4-1.8 s against
# 25-59 ms with one dispatcher). The others poll (OUTBOX_POLL_INTERVAL_MS); one that finds a full batch keeps
# claiming without sleeping, so a backlog is still drained by all of them. If the listener dies, its lock goes with
# its connection and a standby takes over at its next poll.
LISTENER_LOCK_KEY = 0x6E6D632E6F7574  # "nmc.out"


class DispatcherLoop:
    """Wakes on LISTEN/NOTIFY from the outbox trigger (one dispatcher at a time listens; the others poll), polls as a
    fallback, and redrives once a second."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        database_url: str,
        *,
        poll_interval_ms: int,
        redrive_interval_seconds: float = 1.0,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._database_url = database_url
        self._poll_seconds = poll_interval_ms / 1000
        self._redrive_interval = redrive_interval_seconds
        self._on_tick = on_tick
        self.stopping = threading.Event()
        self.listening = False

    def run(self) -> None:
        listener: psycopg.Connection[tuple[object, ...]] | None = None
        last_redrive = 0.0
        notified_seq: int | None = None
        lost_races = 0
        failing: type[Exception] | None = None
        while not self.stopping.is_set():
            try:
                if listener is None:
                    listener = psycopg.connect(self._database_url, autocommit=True)
                    self.listening = False
                if not self.listening:
                    self.listening = _become_the_listener(listener)
                claimed = self._dispatcher.dispatch_batch()
                if time.monotonic() - last_redrive >= self._redrive_interval:
                    self._dispatcher.redrive()
                    last_redrive = time.monotonic()
                    if self._on_tick:
                        self._on_tick()
                if claimed:
                    lost_races = 0
                    if claimed >= self._dispatcher.batch_size:
                        continue  # more is waiting: no need to sleep
                elif lost_the_race(notified_seq, self._dispatcher.newest_claimed_seq):
                    lost_races += 1
                    pause = race_pause_seconds(lost_races)
                    self.stopping.wait(random.uniform(pause / 2, pause))
                notified_seq = self._wait(listener)
            except (psycopg.OperationalError, OSError) as error:
                logger.warning("dispatcher lost a dependency, retrying in 1 s: %s", error)
                if listener is not None:
                    listener.close()
                listener = None
                self.listening = False
                self.stopping.wait(1.0)
            except Exception as error:
                # Anything else is transient too (e.g. Redis restarting); the loop must outlive it. The traceback is
                # logged when a failure starts; while the same failure repeats (once a second through an outage),
                # one line each time says it still does.
                if type(error) is not failing:
                    logger.exception("dispatch cycle failed: %s", error)
                else:
                    logger.warning("dispatch cycle still failing: %s", error)
                failing = type(error)
                self.stopping.wait(1.0)
            else:
                if failing is not None:
                    logger.info("dispatch cycle recovered")
                failing = None
        if listener is not None:
            listener.close()  # and with it the listener lock, for a standby to take
        self.listening = False

    def _wait(self, listener: psycopg.Connection[tuple[object, ...]]) -> int | None:
        """Sleep until a NOTIFY or the poll interval; the newest outbox seq notified, None if none woke us."""
        timeout = min(self._poll_seconds, self._redrive_interval)
        ready, _, _ = select.select([listener.fileno()], [], [], timeout)
        if not ready:
            return None
        # Drain every pending notification; one wake-up covers them all.
        newest = 0
        for notification in listener.notifies(timeout=0):
            newest = max(newest, int(notification.payload) if notification.payload.isdigit() else 0)
        return newest


def _become_the_listener(listener: psycopg.Connection[tuple[object, ...]]) -> bool:
    """LISTEN if no other dispatcher does (taking the listener lock for the life of this connection)."""
    row = listener.execute("SELECT pg_try_advisory_lock(%s)", (LISTENER_LOCK_KEY,)).fetchone()
    if row is None or not row[0]:
        return False
    listener.execute("LISTEN outbox")
    logger.info("this dispatcher now listens for outbox notifications; any others poll")
    return True
