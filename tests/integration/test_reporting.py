"""Reporting projections: handlers and the rebuild from outbox_events agree; the report computes exact P50/P95;
bookings and recovered revenue count the bookings made in a conversation, net of cancellations, once each."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.events import outbox
from domain.events.catalog import (
    CATALOG,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    CallMissed,
    ConversationOpened,
    HumanTakeoverRequested,
    MessageQueued,
    Money,
    OptOutRecorded,
)
from domain.events.envelope import Envelope
from domain.events.handling import HandlerContext
from domain.reporting import handlers, projections, queries
from domain.reporting.models import DailyTenantStats, FirstResponseSample

CALLER = "+13105551212"
DAY1 = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def booked(cents: int, *, in_conversation: bool = True, appointment: uuid.UUID | None = None) -> AppointmentBooked:
    """A booking made in a conversation (the AI booked it: recovered), or from the calendar (staff booked it)."""
    return AppointmentBooked(
        appointment_id=appointment or uuid.uuid4(),
        hold_id=None,
        resource_id=uuid.uuid4(),
        service_item_id=uuid.uuid4(),
        starts_at=DAY2,
        ends_at=DAY2 + timedelta(hours=1),
        customer_phone=CALLER,
        price=Money(amount_cents=cents),
        conversation_id=uuid.uuid4() if in_conversation else None,
    )


def _events(tenant: uuid.UUID) -> list[tuple[object, datetime]]:
    cancelled = booked(30_000)

    def queued(latency: int | None, purpose: str = "first_response") -> MessageQueued:
        return MessageQueued(
            message_id=uuid.uuid4(),
            conversation_id=None,
            provider_ref=f"SM{uuid.uuid4().hex}",
            queued_at=DAY1,
            purpose=purpose,
            first_response_latency_ms=latency,
        )

    missed = CallMissed(call_sid="CA1", caller=CALLER, called="+13105550000", dial_status="no-answer", missed_at=DAY1)
    opened = ConversationOpened(conversation_id=uuid.uuid4(), caller=CALLER, trigger="missed_call")
    takeover = HumanTakeoverRequested(
        conversation_id=uuid.uuid4(), requested_by="operator", user_id=None, reason="vip", lease_expires_at=DAY1
    )
    return [
        (missed, DAY1),
        (missed, DAY1 + timedelta(minutes=5)),
        (opened, DAY1),
        *[(queued(latency), DAY1) for latency in (100, 200, 300, 400, 5000)],
        (queued(900, purpose="ai_reply"), DAY1),  # not a first response
        (booked(12_500), DAY1),
        (booked(8_000), DAY2),
        (booked(9_900, in_conversation=False), DAY1),  # made from the calendar: not recovered
        (cancelled, DAY1 + timedelta(minutes=30)),
        (AppointmentCancelled(appointment_id=cancelled.appointment_id, reason="caller"), DAY2),  # taken back
        (OptOutRecorded(phone=CALLER, source="keyword", keyword="STOP", message_ref=None), DAY2),
        (takeover, DAY2),
        (missed, DAY2 + timedelta(hours=8, minutes=59)),  # 23:59 UTC: still day 2
    ]


def _append_all(sessions: sessionmaker[Session], tenant: uuid.UUID) -> list[Envelope]:
    with transaction(sessions) as session:
        return [outbox.append(session, event, tenant_id=tenant, occurred_at=at) for event, at in _events(tenant)]


def _deliver(sessions: sessionmaker[Session], envelopes: list[Envelope]) -> None:
    by_event: dict[str, list[Any]] = {}
    for subscription in handlers.subscriptions:
        by_event.setdefault(subscription.event_name, []).append(subscription.func)
    for envelope in envelopes:
        payload = CATALOG.load_payload(envelope.event_name, envelope.schema_version, envelope.payload)
        for func in by_event.get(envelope.event_name, []):
            with transaction(sessions) as session:
                func(payload, HandlerContext(session=session, envelope=envelope))


def _snapshot(sessions: sessionmaker[Session]) -> tuple[list[tuple[Any, ...]], ...]:
    with sessions() as session:
        quarters = session.execute(
            text(
                "SELECT tenant_id, starts_at, missed_calls, conversations, bookings, recovered_revenue_cents, opt_outs,"
                " takeovers FROM rep_quarter_hour_tenant_stats ORDER BY tenant_id, starts_at"
            )
        ).all()
        stats = session.execute(select(DailyTenantStats).order_by(DailyTenantStats.tenant_id, DailyTenantStats.day))
        samples = session.execute(select(FirstResponseSample).order_by(FirstResponseSample.message_id))
        bookings = session.execute(
            text(
                "SELECT appointment_id, tenant_id, counted_at, price_cents, cancelled_at FROM rep_bookings"
                " ORDER BY appointment_id"
            )
        ).all()
        return (
            [
                (
                    s.tenant_id,
                    s.day,
                    s.missed_calls,
                    s.conversations,
                    s.bookings,
                    s.recovered_revenue_cents,
                    s.opt_outs,
                    s.takeovers,
                )
                for s in stats.scalars()
            ],
            [(s.message_id, s.tenant_id, s.day, s.occurred_at, s.latency_ms) for s in samples.scalars()],
            [tuple(row) for row in quarters],
            [tuple(row) for row in bookings],
        )


def test_subscriptions_cover_the_reported_events() -> None:
    names = {subscription.event_name for subscription in handlers.subscriptions}
    # StaffCallRecognised takes back the missed call a staff number's CallMissed counted, AppointmentCancelled a
    # booking AppointmentBooked counted.
    corrections = {
        "nmc.conversations.MessageQueued",
        "nmc.conversations.StaffCallRecognised",
        "nmc.scheduling.AppointmentCancelled",
    }
    assert names == set(projections.EVENT_COUNTERS) | corrections
    assert {subscription.queue for subscription in handlers.subscriptions} == {"reporting"}


def test_handlers_build_the_daily_report(sessions: sessionmaker[Session]) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    _deliver(sessions, _append_all(sessions, tenant))
    _deliver(sessions, _append_all(sessions, other))
    with sessions() as session:
        report = queries.daily_report(session, tenant, 3, today=DAY2.date())
        total = queries.totals(session, tenant, 3, today=DAY2.date())
    before, day1, day2 = report
    assert before.missed_calls == 0
    assert before.first_response_p95_ms is None
    assert (day1.missed_calls, day1.conversations, day1.bookings, day1.recovered_revenue_cents) == (2, 1, 1, 12_500)
    assert day1.first_responses == 5
    assert day1.first_response_p50_ms == 300.0
    assert day1.first_response_p95_ms == 4080.0  # percentile_cont over 100..400, 5000: exact, not averaged
    assert (day2.missed_calls, day2.bookings, day2.recovered_revenue_cents, day2.opt_outs, day2.takeovers) == (
        1,
        1,
        8_000,
        1,
        1,
    )
    assert total["recovered_revenue_cents"] == 20_500
    assert total["missed_calls"] == 3
    # The other tenant's facts are counted for it alone.
    with sessions() as session:
        assert queries.totals(session, other, 3, today=DAY2.date())["missed_calls"] == 3


def test_first_response_samples_are_idempotent(sessions: sessionmaker[Session]) -> None:
    tenant = uuid.uuid4()
    envelopes = [e for e in _append_all(sessions, tenant) if e.event_name.endswith("MessageQueued")]
    _deliver(sessions, envelopes)
    _deliver(sessions, envelopes)
    with sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM rep_first_responses")) == 5


def test_rebuild_from_outbox_equals_what_the_handlers_built(sessions: sessionmaker[Session]) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    _deliver(sessions, _append_all(sessions, tenant))
    _deliver(sessions, _append_all(sessions, other))
    live = _snapshot(sessions)
    with transaction(sessions) as session:
        # Corrupt the projections, then rebuild everything from the events.
        session.execute(text("UPDATE rep_daily_tenant_stats SET missed_calls = 999"))
        session.execute(text("DELETE FROM rep_first_responses WHERE latency_ms = 5000"))
        session.execute(text("UPDATE rep_quarter_hour_tenant_stats SET bookings = 999"))
        counts = projections.rebuild(session)
    # Bookings: the two counted and the one cancelled, per tenant (the calendar booking has no row).
    assert counts == {"days": 4, "quarter_hours": 8, "first_responses": 10, "bookings": 6}
    assert _snapshot(sessions) == live
    # Rebuilding one tenant from a given day leaves the others and earlier days alone.
    with transaction(sessions) as session:
        session.execute(text("UPDATE rep_daily_tenant_stats SET takeovers = 7"))
        projections.rebuild(session, tenant, since=DAY2.date())
    with sessions() as session:
        rows = session.execute(
            text("SELECT tenant_id, day, takeovers FROM rep_daily_tenant_stats ORDER BY tenant_id, day")
        ).all()
    by_key = {(row[0], row[1]): row[2] for row in rows}
    assert by_key[(tenant, DAY2.date())] == 1
    assert by_key[(tenant, DAY1.date())] == 7
    assert by_key[(other, DAY2.date())] == 7


def test_the_local_report_counts_each_event_on_the_tenants_own_day(sessions: sessionmaker[Session]) -> None:
    """Auckland is UTC+13 in March: DAY1 15:00 UTC is 04:00 the next local day. Same events, other days."""
    tenant = uuid.uuid4()
    _deliver(sessions, _append_all(sessions, tenant))
    zone = "Pacific/Auckland"
    first, last = date(2025, 3, 10), date(2025, 3, 12)
    with sessions() as session:
        report = queries.local_daily_report(session, tenant, first=first, last=last, timezone=zone)
        total = queries.local_totals(session, tenant, report, first=first, last=last, timezone=zone)
        utc = queries.daily_report(session, tenant, 3, today=last)
    assert [row.day for row in report] == [first, date(2025, 3, 11), last]
    tenth, eleventh, twelfth = report
    assert (tenth.missed_calls, tenth.bookings, tenth.first_responses) == (0, 0, 0)
    assert (eleventh.missed_calls, eleventh.conversations, eleventh.bookings) == (2, 1, 1)
    assert eleventh.recovered_revenue_cents == 12_500
    assert (eleventh.first_responses, eleventh.first_response_p50_ms, eleventh.first_response_p95_ms) == (
        5,
        300.0,
        4080.0,
    )
    assert (twelfth.missed_calls, twelfth.bookings, twelfth.opt_outs, twelfth.takeovers) == (1, 1, 1, 1)
    # In UTC the same facts fall a day earlier; the totals over the three days agree either way.
    assert [row.missed_calls for row in utc] == [2, 1, 0]
    assert (total["missed_calls"], total["bookings"], total["recovered_revenue_cents"]) == (3, 2, 20_500)
    assert (total["first_responses"], total["first_response_p50_ms"]) == (5, 300.0)


def test_a_quarter_hour_offset_zone_splits_its_days_exactly(sessions: sessionmaker[Session]) -> None:
    """Kathmandu is UTC+5:45: 18:14 UTC is 23:59 local, 18:15 UTC is 00:00 the next local day."""
    tenant = uuid.uuid4()
    with transaction(sessions) as session:
        for moment in (datetime(2025, 3, 10, 18, 14, tzinfo=UTC), datetime(2025, 3, 10, 18, 15, tzinfo=UTC)):
            projections.add_to_quarter_hour(session, tenant, moment, counter="missed_calls")
            projections.record_first_response(session, tenant, uuid.uuid4(), moment, 1000 * moment.minute)
    with sessions() as session:
        report = queries.local_daily_report(
            session, tenant, first=date(2025, 3, 10), last=date(2025, 3, 11), timezone="Asia/Kathmandu"
        )
    assert [(row.missed_calls, row.first_responses, row.first_response_p50_ms) for row in report] == [
        (1, 1, 14000.0),
        (1, 1, 15000.0),
    ]


# --- bookings and recovered revenue ----------------------------------------------------------------------------

LA = "America/Los_Angeles"
# 23:30 on Monday 10 March 2025 in Los Angeles (PDT, UTC-7) is 06:30 UTC on Tuesday the 11th.
LATE_MONDAY_IN_LA = datetime(2025, 3, 11, 6, 30, tzinfo=UTC)
LA_MONDAY = date(2025, 3, 10)
DAY = timedelta(days=1)


def _append(sessions: sessionmaker[Session], tenant: uuid.UUID, *events: tuple[object, datetime]) -> list[Envelope]:
    with transaction(sessions) as session:
        return [outbox.append(session, event, tenant_id=tenant, occurred_at=at) for event, at in events]


def _bookings(sessions: sessionmaker[Session], tenant: uuid.UUID) -> dict[str, Any]:
    """Bookings and revenue as each table the reports read has them: local day, UTC days, quarter hours."""
    with sessions() as session:
        local = queries.local_daily_report(
            session, tenant, first=LA_MONDAY, last=LA_MONDAY + timedelta(days=3), timezone=LA
        )
        utc = session.execute(
            text("SELECT day, bookings, recovered_revenue_cents FROM rep_daily_tenant_stats WHERE tenant_id = :t"),
            {"t": tenant},
        ).all()
        quarters = session.execute(
            text(
                "SELECT starts_at, bookings, recovered_revenue_cents FROM rep_quarter_hour_tenant_stats"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant},
        ).all()
    return {
        "local": {
            row.day: (row.bookings, row.recovered_revenue_cents)
            for row in local
            if row.bookings or row.recovered_revenue_cents
        },
        "utc": {
            row.day: (row.bookings, row.recovered_revenue_cents)
            for row in utc
            if row.bookings or row.recovered_revenue_cents
        },
        "quarters": {
            row.starts_at: (row.bookings, row.recovered_revenue_cents)
            for row in quarters
            if row.bookings or row.recovered_revenue_cents
        },
    }


def test_a_calendar_booking_is_not_recovered_revenue_and_a_conversation_booking_is(
    sessions: sessionmaker[Session],
) -> None:
    tenant = uuid.uuid4()
    _deliver(sessions, _append(sessions, tenant, (booked(9_900, in_conversation=False), LATE_MONDAY_IN_LA)))
    assert _bookings(sessions, tenant) == {"local": {}, "utc": {}, "quarters": {}}
    _deliver(sessions, _append(sessions, tenant, (booked(14_900), LATE_MONDAY_IN_LA)))
    assert _bookings(sessions, tenant) == {
        "local": {LA_MONDAY: (1, 14_900)},  # the tenant's Monday, where it was booked
        "utc": {date(2025, 3, 11): (1, 14_900)},
        "quarters": {LATE_MONDAY_IN_LA: (1, 14_900)},
    }


def test_a_cancellation_takes_the_booking_back_from_the_day_it_was_counted_on(sessions: sessionmaker[Session]) -> None:
    tenant = uuid.uuid4()
    kept, lost = booked(14_900), booked(30_000)
    _deliver(
        sessions,
        _append(sessions, tenant, (kept, LATE_MONDAY_IN_LA), (lost, LATE_MONDAY_IN_LA + timedelta(minutes=20))),
    )
    assert _bookings(sessions, tenant)["local"] == {LA_MONDAY: (2, 44_900)}
    # Cancelled on Thursday (and rescheduled before that: still the same one booking), taken back from Monday.
    moved = AppointmentRescheduled(
        appointment_id=lost.appointment_id,
        resource_id=uuid.uuid4(),
        previous_starts_at=DAY2,
        starts_at=DAY2 + timedelta(days=1),
        ends_at=DAY2 + timedelta(days=1, hours=1),
    )
    thursday = LATE_MONDAY_IN_LA + timedelta(days=2, hours=12)
    cancel = AppointmentCancelled(appointment_id=lost.appointment_id, reason="caller cancelled")
    _deliver(sessions, _append(sessions, tenant, (moved, thursday - timedelta(hours=1)), (cancel, thursday)))
    assert _bookings(sessions, tenant) == {
        "local": {LA_MONDAY: (1, 14_900)},
        "utc": {date(2025, 3, 11): (1, 14_900)},
        "quarters": {LATE_MONDAY_IN_LA: (1, 14_900)},  # 06:30 kept its own; 06:45 (the lost one's) is back to 0
    }
    with sessions() as session:
        assert (
            session.scalar(
                text("SELECT bookings FROM rep_quarter_hour_tenant_stats WHERE tenant_id = :t AND starts_at = :q"),
                {"t": tenant, "q": LATE_MONDAY_IN_LA + timedelta(minutes=15)},
            )
            == 0
        )


def test_a_redelivered_booking_or_cancellation_counts_once(sessions: sessionmaker[Session]) -> None:
    tenant = uuid.uuid4()
    booking = booked(14_900)
    envelopes = _append(sessions, tenant, (booking, LATE_MONDAY_IN_LA))
    for _ in range(3):
        _deliver(sessions, envelopes)
    assert _bookings(sessions, tenant)["local"] == {LA_MONDAY: (1, 14_900)}
    cancels = _append(
        sessions,
        tenant,
        (AppointmentCancelled(appointment_id=booking.appointment_id, reason="caller"), LATE_MONDAY_IN_LA + DAY),
        # And cancellations of what was never counted: a calendar booking's, an appointment reporting never saw.
        (AppointmentCancelled(appointment_id=uuid.uuid4(), reason="staff"), LATE_MONDAY_IN_LA + DAY),
    )
    for _ in range(3):
        _deliver(sessions, cancels)
    assert _bookings(sessions, tenant) == {"local": {}, "utc": {}, "quarters": {}}
    with sessions() as session:
        row = session.execute(
            text("SELECT bookings, recovered_revenue_cents FROM rep_daily_tenant_stats WHERE tenant_id = :t"),
            {"t": tenant},
        ).one()
    assert tuple(row) == (0, 0)  # not -2, not -1: taken back once
    # A booking delivered after its own cancellation (redelivered late) counts nothing either.
    _deliver(sessions, envelopes)
    assert _bookings(sessions, tenant)["local"] == {}


def _in_transaction_until(
    sessions: sessionmaker[Session], envelope: Envelope, *, ran: threading.Event, commit: threading.Event
) -> Callable[[], None]:
    func = {sub.event_name: sub.func for sub in handlers.subscriptions}[envelope.event_name]

    def run() -> None:
        payload = CATALOG.load_payload(envelope.event_name, envelope.schema_version, envelope.payload)
        with transaction(sessions) as session:
            func(payload, HandlerContext(session=session, envelope=envelope))
            ran.set()
            commit.wait(10)

    return run


def test_a_booking_and_its_cancellation_racing_end_consistent(sessions: sessionmaker[Session]) -> None:
    """Either handler may run first, and the other while the first has not committed (it then waits on the row's
    key): both orders, and both at once, end with the booking taken back, never counted -1 or left counted."""
    tenant = uuid.uuid4()
    for first in ("nmc.scheduling.AppointmentBooked", "nmc.scheduling.AppointmentCancelled", "together"):
        for _ in range(3 if first == "together" else 1):
            booking = booked(14_900)
            envelopes = _append(
                sessions,
                tenant,
                (booking, LATE_MONDAY_IN_LA),
                (AppointmentCancelled(appointment_id=booking.appointment_id, reason="caller"), LATE_MONDAY_IN_LA + DAY),
            )
            ran = {envelope.event_name: threading.Event() for envelope in envelopes}
            commit = threading.Event()
            threads = {
                envelope.event_name: threading.Thread(
                    target=_in_transaction_until(sessions, envelope, ran=ran[envelope.event_name], commit=commit)
                )
                for envelope in envelopes
            }
            if first == "together":
                commit.set()
                for thread in threads.values():
                    thread.start()
            else:
                other = next(name for name in threads if name != first)
                threads[first].start()
                assert ran[first].wait(10)  # its statement ran; its transaction is still open
                threads[other].start()
                assert not ran[other].wait(0.3)  # the other waits for the first's row
                commit.set()
            for thread in threads.values():
                thread.join(10)
                assert not thread.is_alive()
            with sessions() as session:
                row = session.execute(
                    text(
                        "SELECT counted_at IS NOT NULL, cancelled_at IS NOT NULL FROM rep_bookings"
                        " WHERE appointment_id = :a"
                    ),
                    {"a": booking.appointment_id},
                ).one()
            assert row[1], first  # the cancellation is recorded, whichever came first
    assert _bookings(sessions, tenant) == {"local": {}, "utc": {}, "quarters": {}}
    with sessions() as session:
        totals = session.execute(
            text(
                "SELECT sum(bookings), sum(recovered_revenue_cents) FROM rep_quarter_hour_tenant_stats"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant},
        ).one()
    assert tuple(totals) in ((0, 0), (None, None))
