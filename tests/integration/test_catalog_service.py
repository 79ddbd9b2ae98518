"""Catalog on real Postgres: CRUD with events, only active items quoted, alias + fuzzy matching, demo seeds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import OutboxEvent
from domain.catalog import service as catalog
from domain.catalog.demo import seed_demo_catalog
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.demo import seed_demo_schedule


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    with sessions() as session, session.begin():
        seed_demo_catalog(session, tenant_id=tenant_id, events=RootSink(session))
    return tenant_id


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("my drain is clogged", "Drain cleaning"),
        ("the kitchen sink drains really slow", "Drain cleaning"),
        ("AC not cooling", "AC tune-up"),
        ("my air conditioner is broken", "AC tune-up"),
        ("no hot water since this morning", "Water heater repair"),
        ("watr heatr making noise", "Water heater repair"),
        ("i have a leek under the sink", "Leak repair"),
        ("a pipe burst, water everywhere!!", "Emergency call-out"),
    ],
)
def test_callers_words_match_the_right_item_first(
    sessions: sessionmaker[Session], tenant: uuid.UUID, words: str, expected: str
) -> None:
    with sessions() as session:
        found = catalog.match_services(session, tenant_id=tenant, text=words)
    assert found, words
    assert found[0].name == expected
    assert found == sorted(found, key=lambda c: -c.confidence)


def test_unrelated_words_give_no_confident_match(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session:
        assert catalog.match_services(session, tenant_id=tenant, text="hello") == []
        assert catalog.match_services(session, tenant_id=tenant, text="") == []
        vague = catalog.match_services(session, tenant_id=tenant, text="can someone come look at my roof")
    assert all(candidate.confidence < 0.8 for candidate in vague)


def test_exact_alias_is_fully_confident_and_carries_price(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session:
        best = catalog.match_services(session, tenant_id=tenant, text="clogged drain")[0]
    assert best.confidence == 1.0
    assert (best.price_cents, best.currency, best.duration_minutes) == (14900, "USD", 60)
    assert catalog.format_price(best.price_cents) == "$149"


def test_inactive_items_are_never_matched_or_quoted(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session, session.begin():
        drain = next(i for i in catalog.list_service_items(session, tenant_id=tenant) if i.name == "Drain cleaning")
        catalog.deactivate_service_item(session, tenant_id=tenant, service_item_id=drain.id, events=RootSink(session))
        assert all(
            c.name != "Drain cleaning" for c in catalog.match_services(session, tenant_id=tenant, text="clogged drain")
        )
        with pytest.raises(catalog.ServiceItemNotFound):
            catalog.quote(session, tenant_id=tenant, service_item_id=drain.id)
        changed = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_name == "nmc.catalog.ServiceItemChanged")
        ).all()
    assert len(changed) == 6  # five created, one deactivated
    assert changed[-1]["active"] is False


def test_tenants_do_not_see_each_others_items(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session:
        assert catalog.match_services(session, tenant_id=uuid.uuid4(), text="clogged drain") == []


def test_postgres_refuses_bad_durations(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session, session.begin(), pytest.raises(IntegrityError):
        catalog.create_service_item(
            session, tenant_id=tenant, name="Too long", duration_minutes=481, price_cents=1, events=RootSink(session)
        )


def test_update_replaces_aliases(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session, session.begin():
        leak = next(i for i in catalog.list_service_items(session, tenant_id=tenant) if i.name == "Leak repair")
        catalog.update_service_item(
            session,
            tenant_id=tenant,
            service_item_id=leak.id,
            price_cents=19900,
            aliases=["drippy spigot"],
            events=RootSink(session),
        )
        best = catalog.match_services(session, tenant_id=tenant, text="drippy spigot")[0]
    assert (best.name, best.price_cents, best.confidence) == ("Leak repair", 19900, 1.0)


def test_demo_seeds_are_idempotent_and_bookable(sessions: sessionmaker[Session], tenant: uuid.UUID) -> None:
    with sessions() as session, session.begin():
        items = seed_demo_catalog(session, tenant_id=tenant, events=RootSink(session))
        resources = seed_demo_schedule(session, tenant_id=tenant, service_item_ids=[i.id for i in items])
        again = seed_demo_schedule(session, tenant_id=tenant)
        assert [r.id for r in again] == [r.id for r in resources]
        assert len(catalog.list_service_items(session, tenant_id=tenant)) == 5
        now = datetime(2030, 1, 7, 12, tzinfo=UTC)  # Monday 07:00 in New York
        slots = scheduling.find_slots(
            session,
            scheduling.SlotSearch(
                service_item_id=items[0].id,
                duration_minutes=items[0].duration_minutes,
                window_start=now,
                window_end=now + timedelta(days=7),
                limit=3,
            ),
            tenant_id=tenant,
            now=now,
        )
    local = [s.starts_at.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") for s in slots]
    assert local == ["Mon 08:00", "Mon 08:30", "Mon 09:00"]
