"""The API's read queries (domain/scheduling/queries.py) on real Postgres: frozen records, scoped to the tenant named
(another tenant's id is None or absent), and the filters the /v1 scheduling routes rely on."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from domain.events.sink import RootSink
from domain.scheduling import queries, service
from domain.scheduling.availability import Shift
from domain.scheduling.records import SlotRequest

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # a Monday
CALLER = "+13105551212"


def _setup(session: Session, tenant_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    resource = service.create_resource(session, tenant_id=tenant_id, name="Mike", timezone="UTC", min_lead_minutes=0)
    service.set_working_hours(
        session,
        tenant_id=tenant_id,
        resource_id=resource.id,
        shifts=[Shift(day, time(8), time(17)) for day in range(5)],
    )
    item = uuid.uuid4()
    service.set_resource_services(session, tenant_id=tenant_id, resource_id=resource.id, service_item_ids=[item])
    return resource.id, item


def test_records_are_frozen_and_scoped_to_the_tenant(sessions: sessionmaker[Session]) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    with sessions() as session, session.begin():
        resource_id, item = _setup(session, mine)
        other_resource, _ = _setup(session, theirs)
        starts = NOW + timedelta(days=1, hours=-2)  # Tuesday 10:00
        booked = service.book_slot(
            session,
            SlotRequest(
                resource_id=resource_id,
                service_item_id=item,
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                customer_phone=CALLER,
            ),
            tenant_id=mine,
            price_cents=5000,
            currency="USD",
            now=NOW,
            events=RootSink(session),
        )
        hold = service.place_hold(
            session,
            SlotRequest(
                resource_id=resource_id,
                service_item_id=item,
                starts_at=starts + timedelta(hours=3),
                ends_at=starts + timedelta(hours=4),
            ),
            tenant_id=mine,
            now=NOW,
            ttl_minutes=15,
            events=RootSink(session),
        )

        record = queries.find_resource(session, tenant_id=mine, resource_id=resource_id)
        assert record is not None
        assert record.service_item_ids == (item,)
        assert [shift.weekday for shift in record.working_hours] == [0, 1, 2, 3, 4]
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.name = "changed"  # type: ignore[misc]
        assert queries.find_resource(session, tenant_id=mine, resource_id=other_resource) is None

        found = queries.find_appointment(session, tenant_id=mine, appointment_id=booked.id)
        assert found is not None
        assert (found.starts_at, found.ends_at, found.price_cents) == (starts, starts + timedelta(hours=1), 5000)
        assert queries.find_appointment(session, tenant_id=theirs, appointment_id=booked.id) is None
        held = queries.find_hold(session, tenant_id=mine, hold_id=hold.id)
        assert held is not None
        assert held.status == "active"
        assert queries.find_hold(session, tenant_id=theirs, hold_id=hold.id) is None


def test_appointment_filters_keep_the_overlapping_window(sessions: sessionmaker[Session]) -> None:
    tenant = uuid.uuid4()
    with sessions() as session, session.begin():
        resource_id, item = _setup(session, tenant)
        starts = [NOW + timedelta(days=day, hours=-2) for day in (1, 2, 3)]
        for start in starts:
            service.book_slot(
                session,
                SlotRequest(
                    resource_id=resource_id,
                    service_item_id=item,
                    starts_at=start,
                    ends_at=start + timedelta(hours=1),
                    customer_phone=CALLER,
                ),
                tenant_id=tenant,
                price_cents=100,
                currency="USD",
                now=NOW,
                events=RootSink(session),
            )

        def listed(**filters: object) -> list[datetime]:
            arguments: dict[str, object] = {
                "status": None,
                "customer_phone": None,
                "ends_after": None,
                "starts_before": None,
                "limit": 50,
            }
            arguments |= filters
            return [row.starts_at for row in queries.list_appointments(session, tenant_id=tenant, **arguments)]  # type: ignore[arg-type]

        assert listed() == starts
        # Ending after the window opens: the first appointment still overlaps 10:30 on its day.
        assert listed(ends_after=starts[0] + timedelta(minutes=30)) == starts
        assert listed(starts_before=starts[1]) == starts[:1]
        assert listed(limit=2) == starts[:2]
        assert listed(status="cancelled") == []
        assert listed(customer_phone="+13105550000") == []
        assert (
            queries.list_appointments(
                session,
                tenant_id=uuid.uuid4(),
                status=None,
                customer_phone=None,
                ends_after=None,
                starts_before=None,
                limit=50,
            )
            == []
        )


def test_time_off_of_one_resource_with_or_without_the_business_wide_days(sessions: sessionmaker[Session]) -> None:
    tenant = uuid.uuid4()
    with sessions() as session, session.begin():
        resource_id, _ = _setup(session, tenant)
        business = service.add_time_off(
            session, tenant_id=tenant, first_day=date(2030, 1, 1), last_day=date(2030, 1, 1)
        )
        own = service.add_time_off(
            session, tenant_id=tenant, first_day=date(2030, 2, 1), last_day=date(2030, 2, 2), resource_id=resource_id
        )
        service.add_time_off(session, tenant_id=uuid.uuid4(), first_day=date(2030, 1, 5), last_day=date(2030, 1, 5))

        def ids(resource: uuid.UUID | None, business_wide: bool) -> list[uuid.UUID]:
            found = queries.list_time_off(session, tenant_id=tenant, resource_id=resource, business_wide=business_wide)
            return [record.id for record in found]

        assert ids(resource_id, business_wide=False) == [own.id]
        assert ids(resource_id, business_wide=True) == [business.id, own.id]
        assert ids(None, business_wide=True) == [business.id, own.id]
