"""The reporting projections: per tenant per (UTC) day counters, the same counters per quarter hour (a tenant's
local days are sums of those), plus raw first-response samples with the instant they were queued, and the bookings
counted (``rep_bookings``), so a cancellation takes its booking back from the day it was counted on.

Bookings and recovered revenue count the bookings made in a conversation (``AppointmentBooked.conversation_id`` set:
the product recovered them; a booking staff make from the calendar is not), on the day of the booking, net of
cancellations: a counted booking that is cancelled is taken back (count and price) from that same day and quarter
hour. A reschedule changes nothing (same appointment, still counted once).

Two ways in, one result: the handlers apply events one at a time as they are delivered (the delivery's processed
marker, committed in the same transaction, makes each count happen once), and ``rebuild`` recomputes the same rows
from the events still in ``outbox_events`` with set-based SQL. A test checks that both agree.

Days are UTC days of the event's ``occurred_at``, quarter hours its UTC quarter hour: the projection depends only on
the event, never on another module's state (such as the tenant's time zone), so it can be rebuilt from events alone;
the tenant's zone is applied when reading (``queries.local_daily_report``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, TextClause, and_, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.reporting.models import CountedBooking, FirstResponseSample

COUNTERS = ("missed_calls", "conversations", "bookings", "opt_outs", "takeovers")

# Which event feeds which counter (the rebuild and the handlers share this table).
EVENT_COUNTERS = {
    "nmc.telephony.CallMissed": "missed_calls",
    "nmc.conversations.ConversationOpened": "conversations",
    "nmc.scheduling.AppointmentBooked": "bookings",
    "nmc.compliance.OptOutRecorded": "opt_outs",
    "nmc.conversations.HumanTakeoverRequested": "takeovers",
}


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def quarter_hour_of(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def add_to_quarter_hour(
    session: Session, tenant_id: uuid.UUID, moment: datetime, *, counter: str, amount: int = 1, revenue_cents: int = 0
) -> None:
    """Add to the counters of the quarter hour ``moment`` falls in, with an atomic upsert (concurrent handlers for one
    tenant and quarter hour never lose counts)."""
    values = _values(tenant_id, counter, amount, revenue_cents, quarter=quarter_hour_of(moment))
    session.execute(_ADD[counter, "quarter"], values)


def add_to_day_and_quarter_hour(
    session: Session, tenant_id: uuid.UUID, moment: datetime, *, counter: str, amount: int = 1, revenue_cents: int = 0
) -> None:
    """The UTC day's and the quarter hour's counters of ``moment``, both atomic upserts, in one statement (every counted
    event makes both), taking the day's row lock first."""
    values = _values(tenant_id, counter, amount, revenue_cents, day=day_of(moment), quarter=quarter_hour_of(moment))
    session.execute(_ADD[counter, "both"], values)


def _values(
    tenant_id: uuid.UUID, counter: str, amount: int, revenue_cents: int, **buckets: object
) -> dict[str, object]:
    if counter not in COUNTERS:
        raise ValueError(f"unknown reporting counter {counter!r}")
    return {"tenant": tenant_id, "amount": amount, "revenue": revenue_cents, **buckets}


def _upsert(table: str, bucket: str, value: str, counter: str) -> str:
    return (
        f"INSERT INTO {table} (tenant_id, {bucket}, {counter}, recovered_revenue_cents)"
        f" VALUES (:tenant, {value}, :amount, :revenue)"
        f" ON CONFLICT (tenant_id, {bucket}) DO UPDATE SET {counter} = {table}.{counter} + excluded.{counter},"
        f" recovered_revenue_cents = {table}.recovered_revenue_cents + excluded.recovered_revenue_cents"
    )


# Named statements per counter (the counter is a column name, so it cannot be a parameter; it comes from COUNTERS
# only): built once, where a Core insert built per call cost a cache-key computation every time.
_ADD: dict[tuple[str, str], TextClause] = {}
for _counter in COUNTERS:
    _day = _upsert("rep_daily_tenant_stats", "day", "CAST(:day AS date)", _counter)
    _quarter = _upsert("rep_quarter_hour_tenant_stats", "starts_at", "CAST(:quarter AS timestamptz)", _counter)
    _ADD[_counter, "quarter"] = text(_quarter)
    _ADD[_counter, "both"] = text(f"WITH day AS ({_day}) {_quarter}")


@dataclass(frozen=True)
class Counted:
    """A booking as it was counted: when, and for how much."""

    counted_at: datetime
    price_cents: int


def count_booking(
    session: Session, tenant_id: uuid.UUID, appointment_id: uuid.UUID, *, counted_at: datetime, price_cents: int
) -> bool:
    """Record the booking as counted at ``counted_at``; False (count nothing) when its row exists: a second delivery,
    or a cancellation recorded first. Concurrent writers of one appointment wait on its key, so exactly one wins."""
    statement = (
        insert(CountedBooking)
        .values(appointment_id=appointment_id, tenant_id=tenant_id, counted_at=counted_at, price_cents=price_cents)
        .on_conflict_do_nothing(index_elements=[CountedBooking.appointment_id])
        .returning(CountedBooking.appointment_id)
    )
    return session.execute(statement).first() is not None


def uncount_booking(
    session: Session, tenant_id: uuid.UUID, appointment_id: uuid.UUID, *, cancelled_at: datetime
) -> Counted | None:
    """The cancellation of a booking: what to take back (when it was counted, its price), or None: never counted
    (a calendar booking; or its booking not recorded yet, which then counts nothing), or already taken back."""
    statement = (
        insert(CountedBooking)
        .values(appointment_id=appointment_id, tenant_id=tenant_id, cancelled_at=cancelled_at)
        .on_conflict_do_update(
            index_elements=[CountedBooking.appointment_id],
            set_={"cancelled_at": cancelled_at},
            where=and_(CountedBooking.cancelled_at.is_(None), CountedBooking.tenant_id == tenant_id),
        )
        .returning(CountedBooking.counted_at, CountedBooking.price_cents)
    )
    row = session.execute(statement).first()
    if row is None or row.counted_at is None:
        return None
    return Counted(row.counted_at, int(row.price_cents))


def record_first_response(
    session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID, occurred_at: datetime, latency_ms: int
) -> None:
    """One sample per message: keyed by message id, so a second delivery of the same fact changes nothing."""
    statement = (
        insert(FirstResponseSample)
        .values(
            message_id=message_id,
            tenant_id=tenant_id,
            day=day_of(occurred_at),
            occurred_at=occurred_at,
            latency_ms=latency_ms,
        )
        .on_conflict_do_nothing(index_elements=[FirstResponseSample.message_id])
    )
    session.execute(statement)


# One count of the events per tenant and time bucket, for the days and for the quarter hours alike.
_COUNTS_BY_BUCKET = """
SELECT tenant_id,
       {bucket},
       -- a missed call from a staff number is not one (conversations said so with StaffCallRecognised)
       count(*) FILTER (WHERE event_name = 'nmc.telephony.CallMissed' AND event_id NOT IN (
           SELECT causation_id FROM outbox_events
            WHERE event_name = 'nmc.conversations.StaffCallRecognised' AND causation_id IS NOT NULL)),
       count(*) FILTER (WHERE event_name = 'nmc.conversations.ConversationOpened'),
       -- bookings: those counted (in a conversation, the first event of each appointment) and not cancelled since
       count(*) FILTER (WHERE event_id IN (SELECT event_id FROM counted WHERE cancelled_at IS NULL)),
       coalesce(sum((payload -> 'price' ->> 'amount_cents')::bigint)
                FILTER (WHERE event_id IN (SELECT event_id FROM counted WHERE cancelled_at IS NULL)), 0),
       count(*) FILTER (WHERE event_name = 'nmc.compliance.OptOutRecorded'),
       count(*) FILTER (WHERE event_name = 'nmc.conversations.HumanTakeoverRequested')
  FROM outbox_events
 WHERE tenant_id IS NOT NULL
   AND event_name = ANY(:names)
   -- a booking made from the calendar is no row of the report (the handler counts nothing for it)
   AND (event_name <> 'nmc.scheduling.AppointmentBooked' OR payload ->> 'conversation_id' IS NOT NULL)
   AND (CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
   AND (CAST(:since AS date) IS NULL OR (occurred_at AT TIME ZONE 'UTC')::date >= CAST(:since AS date))
 GROUP BY 1, 2
"""

# The bookings the handlers count: the first AppointmentBooked of each appointment made in a conversation, with the
# first cancellation of that appointment, if any (the rebuilt rep_bookings rows, and what the counts read).
_COUNTED_BOOKINGS = """
counted AS (
    SELECT DISTINCT ON (b.payload ->> 'appointment_id')
           b.event_id, (b.payload ->> 'appointment_id')::uuid AS appointment_id, b.tenant_id,
           b.occurred_at AS counted_at, (b.payload -> 'price' ->> 'amount_cents')::bigint AS price_cents,
           c.cancelled_at
      FROM outbox_events b
      LEFT JOIN (SELECT payload ->> 'appointment_id' AS appointment, tenant_id, min(occurred_at) AS cancelled_at
                   FROM outbox_events WHERE event_name = 'nmc.scheduling.AppointmentCancelled'
                  GROUP BY 1, 2) c
        ON c.appointment = b.payload ->> 'appointment_id' AND c.tenant_id = b.tenant_id
     WHERE b.event_name = 'nmc.scheduling.AppointmentBooked'
       AND b.tenant_id IS NOT NULL
       AND b.payload ->> 'conversation_id' IS NOT NULL
       AND (CAST(:tenant AS uuid) IS NULL OR b.tenant_id = CAST(:tenant AS uuid))
       AND (CAST(:since AS date) IS NULL OR (b.occurred_at AT TIME ZONE 'UTC')::date >= CAST(:since AS date))
     ORDER BY b.payload ->> 'appointment_id', b.seq
)
"""

_REBUILD_COUNTS = f"""
INSERT INTO rep_daily_tenant_stats
    (tenant_id, day, missed_calls, conversations, bookings, recovered_revenue_cents, opt_outs, takeovers)
WITH {_COUNTED_BOOKINGS}
""" + _COUNTS_BY_BUCKET.format(bucket="(occurred_at AT TIME ZONE 'UTC')::date AS day")

_REBUILD_QUARTER_HOURS = f"""
INSERT INTO rep_quarter_hour_tenant_stats
    (tenant_id, starts_at, missed_calls, conversations, bookings, recovered_revenue_cents, opt_outs, takeovers)
WITH {_COUNTED_BOOKINGS}
""" + _COUNTS_BY_BUCKET.format(
    bucket="date_bin(interval '15 minutes', occurred_at, timestamptz '2000-01-01 00:00+00') AS starts_at"
)

# The counted bookings themselves, and a cancellation whose booking is not in the window's events (a calendar
# booking's, or one from before it) as the handler leaves it: a row that counts nothing.
_REBUILD_BOOKINGS = f"""
WITH {_COUNTED_BOOKINGS}
INSERT INTO rep_bookings (appointment_id, tenant_id, counted_at, price_cents, cancelled_at)
SELECT appointment_id, tenant_id, counted_at, price_cents, cancelled_at FROM counted
ON CONFLICT (appointment_id) DO NOTHING
"""
_REBUILD_CANCELLED_UNCOUNTED = """
INSERT INTO rep_bookings (appointment_id, tenant_id, cancelled_at)
SELECT DISTINCT ON (payload ->> 'appointment_id') (payload ->> 'appointment_id')::uuid, tenant_id, occurred_at
  FROM outbox_events
 WHERE event_name = 'nmc.scheduling.AppointmentCancelled'
   AND tenant_id IS NOT NULL
   AND (CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
   AND (CAST(:since AS date) IS NULL OR (occurred_at AT TIME ZONE 'UTC')::date >= CAST(:since AS date))
 ORDER BY payload ->> 'appointment_id', seq
ON CONFLICT (appointment_id) DO NOTHING
"""

_REBUILD_FIRST_RESPONSES = """
INSERT INTO rep_first_responses (message_id, tenant_id, day, occurred_at, latency_ms, source)
SELECT DISTINCT ON ((payload ->> 'message_id')::uuid)
       (payload ->> 'message_id')::uuid, tenant_id, (occurred_at AT TIME ZONE 'UTC')::date, occurred_at,
       (payload ->> 'first_response_latency_ms')::int, 'MessageQueued'
  FROM outbox_events
 WHERE event_name = 'nmc.conversations.MessageQueued'
   AND tenant_id IS NOT NULL
   AND payload ->> 'purpose' = 'first_response'
   AND payload ->> 'first_response_latency_ms' IS NOT NULL
   AND (CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
   AND (CAST(:since AS date) IS NULL OR (occurred_at AT TIME ZONE 'UTC')::date >= CAST(:since AS date))
 ORDER BY (payload ->> 'message_id')::uuid, seq
ON CONFLICT (message_id) DO NOTHING
"""


def rebuild(session: Session, tenant_id: uuid.UUID | None = None, *, since: date | None = None) -> dict[str, int]:
    """Recompute the projections from ``outbox_events`` (one tenant or all; days from ``since`` or all).

    Runs in the caller's transaction, so readers see the old rows until it commits. The outbox keeps events 30 days
    after dispatch (retention), so once retention has run pass ``since`` within that horizon: older days are kept
    as they are rather than recomputed from a partial history.
    """
    params = {"tenant": None if tenant_id is None else str(tenant_id), "since": since}
    scope = """(CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
               AND (CAST(:since AS date) IS NULL OR day >= CAST(:since AS date))"""
    # Serialise rebuilds with each other and with live handlers of the same rows: the rows are replaced wholesale.
    quarter_scope = """(CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
               AND (CAST(:since AS date) IS NULL OR starts_at >= CAST(:since AS date)::timestamp AT TIME ZONE 'UTC')"""
    # A booking's row goes with the day it was counted on (a cancellation's alone, with its own day).
    bookings_scope = """(CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))
               AND (CAST(:since AS date) IS NULL
                    OR coalesce(counted_at, cancelled_at) >= CAST(:since AS date)::timestamp AT TIME ZONE 'UTC')"""
    session.execute(
        text(
            "LOCK TABLE rep_daily_tenant_stats, rep_quarter_hour_tenant_stats, rep_first_responses, rep_bookings"
            " IN SHARE ROW EXCLUSIVE MODE"
        )
    )
    session.execute(text(f"DELETE FROM rep_daily_tenant_stats WHERE {scope}"), params)
    session.execute(text(f"DELETE FROM rep_quarter_hour_tenant_stats WHERE {quarter_scope}"), params)
    session.execute(text(f"DELETE FROM rep_first_responses WHERE {scope}"), params)
    session.execute(text(f"DELETE FROM rep_bookings WHERE {bookings_scope}"), params)
    names = {**params, "names": list(EVENT_COUNTERS)}
    days = _rowcount(session.execute(text(_REBUILD_COUNTS), names))
    quarters = _rowcount(session.execute(text(_REBUILD_QUARTER_HOURS), names))
    samples = _rowcount(session.execute(text(_REBUILD_FIRST_RESPONSES), params))
    bookings = _rowcount(session.execute(text(_REBUILD_BOOKINGS), params))
    bookings += _rowcount(session.execute(text(_REBUILD_CANCELLED_UNCOUNTED), params))
    return {"days": days, "quarter_hours": quarters, "first_responses": samples, "bookings": bookings}


def _rowcount(result: object) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
