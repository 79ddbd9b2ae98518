"""The one write an accepted webhook makes: its ``webhook_events`` row and its outbox event(s), in ONE transaction.

``INSERT … ON CONFLICT DO NOTHING`` on (provider, provider_ref) is the dedupe: of any number of concurrent copies
exactly one inserts; the others find the row (waiting for its commit if needed) and write nothing. If the
transaction fails, neither the row nor the events exist, so the provider's retry starts from scratch.

Requests that arrive together share that transaction (group commit): one writer thread per process takes whatever
is waiting and writes it as one statement, then answers each request with its own outcome. Under load that turns
many commits (each with its NOTIFY, which holds a database-wide lock through the commit) into one, and a request is
still answered only after its rows committed. If the group's statement fails for anything but a lost database, each
request is written again alone, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from db.engine import execute_autocommitted
from domain.events.catalog import EventValidationError
from domain.events.envelope import Envelope
from domain.events.outbox import build_envelope
from ingress.errors import malformed

logger = logging.getLogger("nmc.ingress")
# How long a caller's chain stays open without a call or text (CALLER_CHAIN_IDLE_HOURS).
DEFAULT_CHAIN_IDLE_HOURS = 72
Outcome = Literal["accepted", "duplicate", "unroutable", "ignored"]


@dataclass(frozen=True)
class Route:
    """Where a call or message to one of our numbers belongs."""

    tenant_id: uuid.UUID
    number: str
    forward_to: str
    ring_timeout_seconds: int


@dataclass(frozen=True)
class Delivery:
    provider: str
    provider_ref: str
    kind: str
    payload: dict[str, Any]


# One statement, so one round trip and one transaction, for a group of requests (one row of ``batch`` each, answered
# by ``idx``): the routes (where asked), the dedupe rows, the caller chains and the events. A number no tenant owns is
# still recorded, as ``unroutable`` (so a retry of it is a duplicate too), with no events; a duplicate inserts no row
# and so no events. Either every row of the group is written or none is. The dedupe rows go in key order, and so do
# the chain rows, so two groups holding copies of the same webhooks wait for each other instead of deadlocking; of two
# copies inside one group the earlier is inserted and the later is a duplicate, as if they had come one after the
# other.
#
# Caller chains: the events of a webhook about a caller (a missed call, a text, the status of a text to them) join
# the caller's chain with the tenant when it was seen within the idle window, so a missed call and every text after
# it share one correlation id; otherwise the first such record of the group starts one with its own. Only records
# that ``keep`` the chain (a missed call, a text from the caller) start or refresh it; a status callback only joins.
# Two groups racing to start the same caller's chain may each use their own id for that moment: correlation is for
# tracing, and the row keeps whichever committed first.
_ROUTE_AND_RECORD = """
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(%(batch)s) AS i(
            idx int, number text, id uuid, provider text, provider_ref text, kind text, routed boolean,
            outcome text, payload jsonb, events jsonb, caller text, keeps_chain boolean)
    ), routed AS (
        SELECT i.*, p.tenant_id, t.forward_to, t.ring_timeout_seconds
        FROM input AS i
        LEFT JOIN id_phone_numbers AS p ON p.e164 = i.number
        LEFT JOIN id_tenants AS t ON t.id = p.tenant_id
    ), hook AS (
        INSERT INTO webhook_events (id, provider, provider_ref, kind, tenant_id, outcome, payload)
        SELECT id, provider, provider_ref, kind, tenant_id,
               CASE WHEN routed AND tenant_id IS NULL THEN 'unroutable' ELSE outcome END, payload
        FROM routed
        ORDER BY provider, provider_ref, idx
        ON CONFLICT (provider, provider_ref) DO NOTHING
        RETURNING id, tenant_id, outcome
    ), chained AS (
        SELECT r.idx, r.tenant_id, r.caller, r.keeps_chain,
               coalesce(c.correlation_id, first_value((r.events -> 0 ->> 'correlation_id')::uuid)
                   OVER (PARTITION BY r.tenant_id, r.caller ORDER BY r.idx)) AS correlation_id
        FROM routed AS r
        JOIN hook AS h ON h.id = r.id AND h.outcome <> 'unroutable'
        LEFT JOIN caller_chains AS c ON c.tenant_id = r.tenant_id AND c.caller = r.caller
            AND c.last_seen_at > now() - make_interval(hours => %(idle_hours)s)
        WHERE r.caller IS NOT NULL AND r.tenant_id IS NOT NULL AND jsonb_array_length(r.events) > 0
    ), kept AS (
        INSERT INTO caller_chains AS c (tenant_id, caller, correlation_id)
        SELECT DISTINCT ON (tenant_id, caller) tenant_id, caller, correlation_id
        FROM chained WHERE keeps_chain
        ORDER BY tenant_id, caller, idx
        ON CONFLICT (tenant_id, caller) DO UPDATE SET
            correlation_id = CASE WHEN c.last_seen_at > now() - make_interval(hours => %(idle_hours)s)
                THEN c.correlation_id ELSE excluded.correlation_id END,
            started_at = CASE WHEN c.last_seen_at > now() - make_interval(hours => %(idle_hours)s)
                THEN c.started_at ELSE now() END,
            last_seen_at = now()
    ), events AS (
        INSERT INTO outbox_events
            (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, causation_id, payload)
        SELECT e.event_id, e.event_name, e.schema_version, hook.tenant_id, e.occurred_at,
               coalesce(ch.correlation_id, e.correlation_id), e.causation_id, e.payload
        FROM hook JOIN input AS i ON i.id = hook.id
        LEFT JOIN chained AS ch ON ch.idx = i.idx,
        jsonb_to_recordset(i.events) AS e(
            event_id uuid, event_name text, schema_version int, occurred_at timestamptz, correlation_id uuid,
            causation_id uuid, payload jsonb, position int)
        WHERE hook.outcome <> 'unroutable'
        ORDER BY i.idx, e.position
    )
    SELECT r.idx, h.id AS inserted, r.tenant_id, r.forward_to, r.ring_timeout_seconds
    FROM routed AS r LEFT JOIN hook AS h ON h.id = r.id
"""


@dataclass(eq=False)
class _Waiting:
    record: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Any = None
    leads: bool = False  # promoted to write the next group, instead of being written by someone else


class GroupWriter:
    """Writes webhooks as many per statement as are waiting (up to ``max_group``); each caller returns once its
    own rows committed (or failed).

    Leader and followers, no thread of its own: a request that finds nobody writing writes at once, on its own
    thread (so a lone request pays no hand-off). Requests arriving meanwhile wait; when the writer's group has
    committed, it answers its group and promotes the first of those waiting, which writes everything waiting by
    then. Each request thread writes at most one group, so none is kept serving others under load."""

    def __init__(
        self, engine: Engine, *, max_group: int = 64, chain_idle_hours: int = DEFAULT_CHAIN_IDLE_HOURS
    ) -> None:
        self._engine = engine
        self._max_group = max_group
        self._chain_idle_hours = chain_idle_hours
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.Lock()
        self._writing = False  # invariant: while False, nobody is waiting

    def write(self, record: dict[str, Any]) -> Any:
        """``record`` written (in a group or alone); its result row, or the error its write raised."""
        me = _Waiting(record)
        with self._lock:
            self._waiting.append(me)
            leads = not self._writing
            self._writing = True
        if not leads:
            me.done.wait()
            if not me.leads:
                return _unwrap(me.outcome)
        # Leading: first in line, so in the group written now.
        with self._lock:
            group = [self._waiting.popleft() for _ in range(min(self._max_group, len(self._waiting)))]
        try:
            outcomes = self.write_many([waiting.record for waiting in group])
        except BaseException as error:  # a bug here must not leave the group waiting for ever
            outcomes = [error] * len(group)
        with self._lock:
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._writing = False
            else:
                successor.leads = True
        for waiting, outcome in zip(group, outcomes, strict=True):
            waiting.outcome = outcome
            waiting.done.set()
        if successor is not None:
            successor.done.set()
        return _unwrap(me.outcome)

    def write_many(self, records: list[dict[str, Any]]) -> list[Any]:
        """Write ``records`` as one group: one statement and transaction, or, if that fails for anything but a lost
        database, one each. Each record's result row, or the error its write raised."""
        try:
            return self._write(records)
        except psycopg.OperationalError as error:
            # The database is gone: every request answers 503 and is retried. One exception each, since each is
            # raised (and its traceback extended) in its own request thread.
            return [error, *(psycopg.OperationalError(str(error)) for _ in records[1:])]
        except Exception as error:
            if len(records) == 1:
                return [error]
            logger.info("a group of %d webhooks failed (%s); writing each alone", len(records), error)
        outcomes: list[Any] = []
        for record in records:
            try:
                outcomes.extend(self._write([record]))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def _write(self, records: list[dict[str, Any]]) -> list[Any]:
        batch = [record | {"idx": index} for index, record in enumerate(records)]
        rows = execute_autocommitted(
            self._engine, _ROUTE_AND_RECORD, {"batch": Jsonb(batch), "idle_hours": self._chain_idle_hours}
        )
        by_index = {row.idx: row for row in rows}
        return [by_index[index] for index in range(len(records))]


class WebhookRecorder:
    """Writes accepted webhooks through a ``GroupWriter``, in plain psycopg.

    This is the one write on the webhook hot path. Through the ORM it took four round trips (BEGIN, statement,
    events, COMMIT) and most of a request's CPU; as a single autocommitted statement it is one round trip, shared by
    the requests that arrive together.
    """

    def __init__(
        self, engine: Engine, writer: GroupWriter | None = None, *, chain_idle_hours: int = DEFAULT_CHAIN_IDLE_HOURS
    ) -> None:
        self._writer = writer or GroupWriter(engine, chain_idle_hours=chain_idle_hours)

    def record(
        self,
        delivery: Delivery,
        *,
        number: str | None,
        events: Sequence[object] | None,
        correlation_id: uuid.UUID,
        routed: bool = True,
        caller: str | None = None,
        keeps_chain: bool = False,
    ) -> tuple[Outcome, Route | None]:
        """Route by ``number`` (when ``routed``), then write the row and ``events`` atomically.

        ``events`` are what a routed delivery means (None: nothing, recorded as ``ignored``); an unroutable
        delivery writes no events. The envelopes get the tenant found here and ``caller``'s chain with it (see
        ``_ROUTE_AND_RECORD``), or the request's correlation id when there is none; ``keeps_chain`` starts or
        refreshes that chain.
        """
        record = prepare_record(
            delivery,
            number=number,
            events=events,
            correlation_id=correlation_id,
            routed=routed,
            caller=caller,
            keeps_chain=keeps_chain,
        )
        return outcome_of(record, self._writer.write(record))


def _unwrap(outcome: Any) -> Any:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def prepare_record(
    delivery: Delivery,
    *,
    number: str | None,
    events: Sequence[object] | None,
    correlation_id: uuid.UUID,
    routed: bool = True,
    caller: str | None = None,
    keeps_chain: bool = False,
) -> dict[str, Any]:
    """What ``GroupWriter`` writes for one webhook; JSON-ready, since a group goes as one JSON document (psycopg
    dumps that in C, typed arrays in Python)."""
    try:
        # Validated before any database work; the tenant is filled in by the statement once the route is known.
        envelopes = [build_envelope(event, tenant_id=None, correlation_id=correlation_id) for event in events or ()]
    except EventValidationError as error:
        raise malformed(str(error)) from None
    return {
        "number": number if routed else None,
        "id": str(uuid.uuid4()),
        "provider": delivery.provider,
        "provider_ref": delivery.provider_ref,
        "kind": delivery.kind,
        "routed": routed,
        "outcome": "ignored" if events is None else "accepted",
        "payload": delivery.payload,
        "caller": caller,
        "keeps_chain": keeps_chain,
        "events": [_event_record(envelope, position) for position, envelope in enumerate(envelopes)],
    }


def outcome_of(record: dict[str, Any], row: Any) -> tuple[Outcome, Route | None]:
    """What the write of ``record`` came to: accepted (or ignored), duplicate or unroutable, and the route found."""
    route = (
        None
        if row.tenant_id is None
        else Route(row.tenant_id, record["number"] or "", row.forward_to, row.ring_timeout_seconds)
    )
    if row.inserted is None:
        return "duplicate", route
    if record["routed"] and route is None:
        return "unroutable", route
    return cast(Outcome, record["outcome"]), route


def _event_record(envelope: Envelope, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "event_id": str(envelope.event_id),
        "event_name": envelope.event_name,
        "schema_version": envelope.schema_version,
        "occurred_at": envelope.occurred_at.isoformat(),
        "correlation_id": str(envelope.correlation_id),
        "causation_id": None if envelope.causation_id is None else str(envelope.causation_id),
        "payload": envelope.payload,
    }
