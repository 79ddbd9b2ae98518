"""Holds and appointments on real Postgres: the exclusion constraints have the last word, conflicts come back typed
with alternatives, an expired hold never blocks, and every change writes its catalog event in the same transaction."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.models import OutboxEvent
from domain.events.sink import RootSink
from domain.scheduling import service
from domain.scheduling.availability import Shift
from domain.scheduling.errors import HoldNotExtendable, SlotUnavailable
from domain.scheduling.models import Appointment, Hold
from domain.scheduling.records import AppointmentRecord, HoldRecord, Reschedule, SlotRequest
from domain.scheduling.sync import BusyBlock, set_internal_busy

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
NOW = datetime(2030, 1, 7, 7, 0, tzinfo=ZONE).astimezone(UTC)  # Monday 07:00 local
CALLER = "+13105551212"
OTHER = "+13105553434"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@dataclass
class World:
    tenant_id: uuid.UUID
    resource_id: uuid.UUID
    second_resource_id: uuid.UUID
    service_item_id: uuid.UUID


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    tenant_id, service_item_id = uuid.uuid4(), uuid.uuid4()
    with sessions() as session, session.begin():
        shifts = [Shift(day, time(8), time(17)) for day in range(5)]
        first = service.create_resource(
            session, tenant_id=tenant_id, name="A Mike", timezone=TZ, min_lead_minutes=60, slot_step_minutes=30
        )
        second = service.create_resource(
            session, tenant_id=tenant_id, name="B Sarah", timezone=TZ, min_lead_minutes=60, slot_step_minutes=30
        )
        for resource in (first, second):
            service.set_working_hours(session, tenant_id=tenant_id, resource_id=resource.id, shifts=shifts)
    return World(tenant_id, first.id, second.id, service_item_id)


def events(session: Session, name: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(OutboxEvent.payload).where(OutboxEvent.event_name == f"nmc.scheduling.{name}").order_by(OutboxEvent.seq)
    )
    return [row[0] for row in rows]


def hold(
    session: Session, w: World, start: datetime, *, minutes: int = 60, now: datetime = NOW, **kw: Any
) -> HoldRecord:
    return service.place_hold(
        session,
        SlotRequest(
            resource_id=kw.pop("resource_id", w.resource_id),
            service_item_id=w.service_item_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            customer_phone=kw.pop("customer_phone", CALLER),
        ),
        tenant_id=w.tenant_id,
        now=now,
        ttl_minutes=15,
        **kw,
        events=RootSink(session),
    )


def book(session: Session, w: World, start: datetime, *, phone: str = OTHER, now: datetime = NOW) -> AppointmentRecord:
    return service.book_slot(
        session,
        SlotRequest(
            resource_id=w.resource_id,
            service_item_id=w.service_item_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=60),
            customer_phone=phone,
        ),
        tenant_id=w.tenant_id,
        price_cents=14900,
        currency="USD",
        now=now,
        events=RootSink(session),
    )


def test_hold_then_confirm_books_once_with_events(sessions: sessionmaker[Session], world: World) -> None:
    start = local(7, 10)
    with sessions() as session, session.begin():
        placed = hold(session, world, start)
        appointment = service.confirm_hold(
            session,
            tenant_id=world.tenant_id,
            hold_id=placed.id,
            price_cents=14900,
            currency="USD",
            now=NOW,
            events=RootSink(session),
        )
        again = service.confirm_hold(
            session,
            tenant_id=world.tenant_id,
            hold_id=placed.id,
            price_cents=14900,
            currency="USD",
            now=NOW,
            events=RootSink(session),
        )
    assert again.id == appointment.id
    with sessions() as session:
        assert session.get(Hold, placed.id).status == "confirmed"  # type: ignore[union-attr]
        assert [e["hold_id"] for e in events(session, "HoldPlaced")] == [str(placed.id)]
        booked = events(session, "AppointmentBooked")
        assert len(booked) == 1
        assert booked[0]["price"] == {"amount_cents": 14900, "currency": "USD"}
        assert booked[0]["customer_phone"] == CALLER
        slots = service.find_slots(
            session,
            service.SlotSearch(
                service_item_id=world.service_item_id,
                duration_minutes=60,
                window_start=local(7, 0),
                window_end=local(8, 0),
                resource_id=world.resource_id,
                limit=None,
            ),
            tenant_id=world.tenant_id,
            now=NOW,
        )
    assert all(not (s.starts_at < start + timedelta(hours=1) and start < s.ends_at) for s in slots)
    assert any(s.starts_at == start + timedelta(hours=1) for s in slots)


def test_an_unexpired_hold_blocks_a_plain_booking_with_alternatives(
    sessions: sessionmaker[Session], world: World
) -> None:
    start = local(7, 10)
    with sessions() as session, session.begin():
        hold(session, world, start)
    with sessions() as session, session.begin():
        with pytest.raises(SlotUnavailable) as refused:
            book(session, world, start, now=NOW + timedelta(minutes=5))
        # The caller's transaction is still usable after the refusal (the SAVEPOINT took the blow).
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert refused.value.reason == "held"
    assert refused.value.alternatives
    for slot in refused.value.alternatives:
        assert not (
            slot.resource_id == world.resource_id
            and slot.starts_at < start + timedelta(hours=1)
            and start < slot.ends_at
        )


def test_an_expired_but_unswept_hold_does_not_block(sessions: sessionmaker[Session], world: World) -> None:
    start = local(7, 10)
    with sessions() as session, session.begin():
        stale = hold(session, world, start)
    later = NOW + timedelta(minutes=16)  # past the 15 minute TTL, and nobody has run expire_holds
    with sessions() as session, session.begin():
        slots = service.find_slots(
            session,
            service.SlotSearch(
                service_item_id=world.service_item_id,
                duration_minutes=60,
                window_start=start,
                window_end=start + timedelta(hours=1),
                resource_id=world.resource_id,
            ),
            tenant_id=world.tenant_id,
            now=later,
        )
        assert [s.starts_at for s in slots] == [start]
        appointment = book(session, world, start, now=later)
        second_hold = hold(session, world, start + timedelta(hours=2), now=later, customer_phone=OTHER)
    with sessions() as session:
        assert session.get(Hold, stale.id).status == "expired"  # type: ignore[union-attr]
        assert [e["hold_id"] for e in events(session, "HoldExpired")] == [str(stale.id)]
        assert session.get(Appointment, appointment.id) is not None
        assert second_hold.status == "active"


def test_expire_holds_sweeps_and_emits(sessions: sessionmaker[Session], world: World) -> None:
    with sessions() as session, session.begin():
        first = hold(session, world, local(7, 10))
        hold(session, world, local(7, 12), now=NOW + timedelta(minutes=10))
    with sessions() as session, session.begin():
        assert service.expire_holds(session, NOW + timedelta(minutes=16), events=RootSink(session)) == 1
        assert service.expire_holds(session, NOW + timedelta(minutes=16), events=RootSink(session)) == 0
    with sessions() as session:
        assert [e["hold_id"] for e in events(session, "HoldExpired")] == [str(first.id)]


def test_extend_hold_up_to_the_cap(sessions: sessionmaker[Session], world: World) -> None:
    with sessions() as session, session.begin():
        placed = hold(session, world, local(7, 10))
        for minute in (10, 20):
            extended = service.extend_hold(
                session,
                tenant_id=world.tenant_id,
                hold_id=placed.id,
                now=NOW + timedelta(minutes=minute),
                ttl_minutes=15,
                max_extensions=2,
                events=RootSink(session),
            )
        assert extended.expires_at == NOW + timedelta(minutes=35)
        with pytest.raises(HoldNotExtendable) as capped:
            service.extend_hold(
                session,
                tenant_id=world.tenant_id,
                hold_id=placed.id,
                now=NOW + timedelta(minutes=30),
                ttl_minutes=15,
                max_extensions=2,
                events=RootSink(session),
            )
        assert capped.value.reason == "cap_reached"
        assert len(events(session, "HoldExtended")) == 2


def test_outside_hours_and_too_soon_are_typed(sessions: sessionmaker[Session], world: World) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(SlotUnavailable) as night:
            hold(session, world, local(7, 18))
        with pytest.raises(SlotUnavailable) as soon:
            hold(session, world, local(7, 7, 30))
    assert night.value.reason == "outside_hours"
    assert soon.value.reason == "too_soon"
    assert night.value.alternatives
    assert all(slot.starts_at >= NOW + timedelta(minutes=60) for slot in soon.value.alternatives)


def test_cancel_frees_the_slot_and_reschedule_conflicts_are_typed(
    sessions: sessionmaker[Session], world: World
) -> None:
    with sessions() as session, session.begin():
        first = book(session, world, local(7, 10))
        second = book(session, world, local(7, 13), phone=CALLER)
        with pytest.raises(SlotUnavailable) as clash:
            service.reschedule_appointment(
                session,
                Reschedule(appointment_id=second.id, starts_at=local(7, 10, 30)),
                tenant_id=world.tenant_id,
                now=NOW,
                events=RootSink(session),
            )
        assert clash.value.reason == "conflict"
        assert clash.value.alternatives
        moved = service.reschedule_appointment(
            session,
            Reschedule(appointment_id=second.id, starts_at=local(8, 9)),
            tenant_id=world.tenant_id,
            now=NOW,
            events=RootSink(session),
        )
        assert service.slot_bounds(moved) == (local(8, 9), local(8, 10))
        service.cancel_appointment(
            session, tenant_id=world.tenant_id, appointment_id=first.id, reason="x", now=NOW, events=RootSink(session)
        )
        service.cancel_appointment(
            session, tenant_id=world.tenant_id, appointment_id=first.id, reason="x", now=NOW, events=RootSink(session)
        )
        rebooked = book(session, world, local(7, 10), phone=CALLER)
        upcoming = service.upcoming_appointments(session, tenant_id=world.tenant_id, customer_phone=CALLER, now=NOW)
        assert [a.id for a in upcoming] == [rebooked.id, second.id]
        assert len(events(session, "AppointmentCancelled")) == 1
        rescheduled = events(session, "AppointmentRescheduled")
        assert len(rescheduled) == 1
        assert rescheduled[0]["previous_starts_at"].startswith("2030-01-07T18:00")


def test_external_busy_hides_exactly_the_overlapping_slots(sessions: sessionmaker[Session], world: World) -> None:
    def offered() -> set[datetime]:
        with sessions() as session:
            return {
                s.starts_at
                for s in service.find_slots(
                    session,
                    service.SlotSearch(
                        service_item_id=world.service_item_id,
                        duration_minutes=60,
                        window_start=local(8, 0),
                        window_end=local(9, 0),
                        resource_id=world.resource_id,
                        limit=None,
                    ),
                    tenant_id=world.tenant_id,
                    now=NOW,
                )
            }

    before = offered()
    with sessions() as session, session.begin():
        calendar = service.add_calendar(
            session, tenant_id=world.tenant_id, resource_id=world.resource_id, provider="internal", external_ref="x"
        )
        set_internal_busy(
            session,
            tenant_id=world.tenant_id,
            calendar_id=calendar.id,
            blocks=[BusyBlock(local(8, 10), local(8, 11), external_ref="dentist")],
            window_start=local(7, 0),
            window_end=local(14, 0),
            now=NOW,
            events=RootSink(session),
        )
    after = offered()
    assert before - after == {local(8, 9, 30), local(8, 10), local(8, 10, 30)}
    assert after < before
    with sessions() as session, session.begin():
        with pytest.raises(SlotUnavailable) as busy:
            hold(session, world, local(8, 10, 30))
        assert busy.value.reason == "external_busy"
        assert len(events(session, "ExternalBusyChanged")) == 1


def test_time_off_and_services_limit_resources(sessions: sessionmaker[Session], world: World) -> None:
    other_service = uuid.uuid4()
    with sessions() as session, session.begin():
        service.set_resource_services(
            session, tenant_id=world.tenant_id, resource_id=world.second_resource_id, service_item_ids=[other_service]
        )
        service.add_time_off(session, tenant_id=world.tenant_id, first_day=date(2030, 1, 8), last_day=date(2030, 1, 8))
        slots = service.find_slots(
            session,
            service.SlotSearch(
                service_item_id=world.service_item_id,
                duration_minutes=60,
                window_start=local(7, 0),
                window_end=local(10, 0),
                limit=None,
                distinct_times=False,
            ),
            tenant_id=world.tenant_id,
            now=NOW,
        )
    assert {slot.resource_id for slot in slots} == {world.resource_id}
    assert not [slot for slot in slots if slot.starts_at.astimezone(ZONE).date() == date(2030, 1, 8)]


def _race(sessions: sessionmaker[Session], attempts: list[Callable[[Session], object]]) -> list[object]:
    """Run each attempt in its own thread, connection and transaction, all released at once."""
    barrier = threading.Barrier(len(attempts))
    results: list[object] = [None] * len(attempts)

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        try:
            with sessions() as session, session.begin():
                results[index] = attempts[index](session)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_concurrent_bookings_of_one_slot_exactly_one_wins(sessions: sessionmaker[Session], world: World) -> None:
    start = local(9, 14)
    phones = [f"+1310555{n:04d}" for n in range(20)]
    results = _race(sessions, [lambda s, p=phone: book(s, world, start, phone=p) for phone in phones])
    winners = [r for r in results if isinstance(r, AppointmentRecord)]
    losers = [r for r in results if isinstance(r, SlotUnavailable)]
    assert len(winners) == 1
    assert len(losers) == 19
    for loser in losers:
        assert loser.reason in {"conflict"}
        assert loser.alternatives
        assert all(slot.starts_at != start or slot.resource_id != world.resource_id for slot in loser.alternatives)
    with sessions() as session:
        count = session.execute(
            text("SELECT count(*) FROM sched_appointments WHERE resource_id = :r AND status = 'booked'"),
            {"r": world.resource_id},
        ).scalar()
        assert count == 1
        assert len(events(session, "AppointmentBooked")) == 1


def test_a_hold_racing_a_booking_only_one_gets_the_slot(sessions: sessionmaker[Session], world: World) -> None:
    for round_ in range(5):
        start = local(10, 9 + round_)
        results = _race(
            sessions,
            [lambda s, t=start: hold(s, world, t), lambda s, t=start: book(s, world, t, phone=OTHER)],
        )
        won = [r for r in results if isinstance(r, HoldRecord | AppointmentRecord)]
        refused = [r for r in results if isinstance(r, SlotUnavailable)]
        assert len(won) == 1, results
        assert len(refused) == 1, results
        assert refused[0].reason in {"conflict", "held"}
        assert refused[0].alternatives


def test_per_date_hours_change_what_availability_offers_on_that_date(
    sessions: sessionmaker[Session], world: World
) -> None:
    tuesday = date(2030, 1, 8)

    def tuesday_starts(session: Session) -> list[time]:
        slots = service.find_slots(
            session,
            service.SlotSearch(
                service_item_id=None,
                duration_minutes=60,
                window_start=local(8, 0),
                window_end=local(9, 0),
                resource_id=world.resource_id,
                limit=None,
            ),
            tenant_id=world.tenant_id,
            now=NOW,
        )
        return [slot.starts_at.astimezone(ZONE).time() for slot in slots]

    with sessions() as session, session.begin():
        assert tuesday_starts(session)[0] == time(8)
        service.set_date_hours(
            session,
            tenant_id=world.tenant_id,
            resource_id=world.resource_id,
            day=tuesday,
            shifts=[(time(18), time(20))],
        )
        assert tuesday_starts(session) == [time(18), time(18, 30), time(19)]
        with pytest.raises(SlotUnavailable) as refused:  # the write path checks the same hours
            hold(session, world, local(8, 9))
        assert refused.value.reason == "outside_hours"
        service.set_date_hours(
            session, tenant_id=world.tenant_id, resource_id=world.resource_id, day=tuesday, shifts=[]
        )
        assert tuesday_starts(session)[0] == time(8)  # cleared: the weekly hours again
