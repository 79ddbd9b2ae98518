"""The operator-API world for the /v1 tests: two tenants with OWNER/TECH members, a local JWKS, a falcon client.

Test modules bind the fixtures by name (``jwks = api_world.jwks`` …) so pytest finds them there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import falcon.testing
import pytest
import redis
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.catalog import service as catalog
from domain.compliance import service as compliance
from domain.events.sink import RootSink
from domain.identity import service as identity
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Shift
from domain.scheduling.records import SlotRequest
from ingress.app import IngressDeps, create_app
from tests.support.clerk_jwks import ISSUER, PARTY, Keys, serve_jwks, token
from tests.support.members import join

__all__ = ["ISSUER", "PARTY", "PHONE", "Keys", "Sched", "World", "json_values", "outbox_names", "token"]

PHONE = "+13105550199"  # the customer of the scheduling fixtures


@pytest.fixture(scope="module")
def jwks() -> Iterator[Keys]:
    with serve_jwks() as keys:
        yield keys


@dataclass
class World:
    client: falcon.testing.TestClient
    keys: Keys
    a: uuid.UUID
    b: uuid.UUID
    conv_a: uuid.UUID
    conv_b: uuid.UUID
    task_b: uuid.UUID
    user_b: uuid.UUID
    sessions: sessionmaker[Session]

    def call(self, method: str, path: str, who: str = "owner_a", **kwargs: Any) -> falcon.testing.Result:
        headers = {"Authorization": f"Bearer {token(self.keys, who)}", **kwargs.pop("headers", {})}
        return self.client.simulate_request(method.upper(), path, headers=headers, **kwargs)


def _conversation(session: Session, tenant_id: uuid.UUID, caller: str) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    session.execute(
        text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, :c, 'open')"),
        {"id": conversation_id, "t": tenant_id, "c": caller},
    )
    return conversation_id


def two_tenants(session: Session) -> tuple[identity.TenantRecord, identity.TenantRecord]:
    """Tenants A (+13105550001) and B (+13105550003), each with a pending campaign and its OWNER (owner_a, owner_b)."""
    a = identity.create_tenant(
        session, name="A", number="+13105550001", forward_to="+13105550002", timezone="UTC", events=RootSink(session)
    )
    b = identity.create_tenant(
        session, name="B", number="+13105550003", forward_to="+13105550004", timezone="UTC", events=RootSink(session)
    )
    for tenant, prefix in ((a.id, "a"), (b.id, "b")):
        compliance.ensure_campaign(session, tenant_id=tenant)
        join(session, tenant_id=tenant, clerk_user_id=f"owner_{prefix}", role="OWNER")
    return a, b


@pytest.fixture
def world(settings: Settings, engine: Engine, sessions: sessionmaker[Session], jwks: Keys) -> Iterator[World]:
    with transaction(sessions) as session:
        a, b = two_tenants(session)
        join(session, tenant_id=a.id, clerk_user_id="tech_a", role="TECH")
        user_b = join(session, tenant_id=b.id, clerk_user_id="tech_b", role="TECH")
        compliance.set_campaign_status(
            session, tenant_id=a.id, status="approved", changed_by="test", events=RootSink(session)
        )
        conv_a = _conversation(session, a.id, "+13105550100")
        conv_b = _conversation(session, b.id, "+13105550100")
        task_b = uuid.uuid4()
        session.execute(
            text("INSERT INTO conv_operator_tasks (id, tenant_id, kind, note) VALUES (:id, :t, 'confirm', 'check')"),
            {"id": task_b, "t": b.id},
        )
    app_settings = settings.model_copy(
        update={"clerk_jwks_url": jwks.url, "clerk_issuer": ISSUER, "clerk_authorized_parties": (PARTY,)}
    )
    client = redis.Redis.from_url(settings.redis_url)
    app = create_app(app_settings, IngressDeps(engine=engine, sessions=sessions, redis=client))
    yield World(falcon.testing.TestClient(app), jwks, a.id, b.id, conv_a, conv_b, task_b, user_b, sessions)
    client.close()


def outbox_names(world: World, tenant_id: uuid.UUID) -> list[str]:
    with transaction(world.sessions) as session:
        rows = session.execute(
            text("SELECT event_name FROM outbox_events WHERE tenant_id = :t ORDER BY seq"), {"t": tenant_id}
        )
        return [row[0] for row in rows]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@dataclass
class Sched:
    item_a: str
    resource_a: str
    item_b: str
    resource_b: str
    appointment_b: str
    hold_b: str
    tomorrow: datetime  # 00:00 UTC of the next day: the resources work 08:00-18:00 UTC every day


@pytest.fixture
def sched(world: World) -> Sched:
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    hours = [Shift(day, time(8), time(18)) for day in range(7)]
    made: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
    with transaction(world.sessions) as session:
        for tenant in (world.a, world.b):
            item = catalog.create_service_item(
                session,
                tenant_id=tenant,
                name="Leak repair",
                duration_minutes=60,
                price_cents=12500,
                events=RootSink(session),
            )
            resource = scheduling.create_resource(session, tenant_id=tenant, name="Sam", timezone="UTC")
            scheduling.set_working_hours(session, tenant_id=tenant, resource_id=resource.id, shifts=hours)
            made[tenant] = (item.id, resource.id)
        item_b, resource_b = made[world.b]
        appointment_b = scheduling.book_slot(
            session,
            SlotRequest(
                resource_id=resource_b,
                service_item_id=item_b,
                starts_at=tomorrow + timedelta(hours=9),
                ends_at=tomorrow + timedelta(hours=10),
                customer_phone=PHONE,
            ),
            tenant_id=world.b,
            price_cents=12500,
            currency="USD",
            now=now,
            events=RootSink(session),
        )
        hold_b = scheduling.place_hold(
            session,
            SlotRequest(
                resource_id=resource_b,
                service_item_id=item_b,
                starts_at=tomorrow + timedelta(hours=11),
                ends_at=tomorrow + timedelta(hours=12),
                customer_phone=PHONE,
            ),
            tenant_id=world.b,
            now=now,
            ttl_minutes=15,
            events=RootSink(session),
        )
        ids = (appointment_b.id, hold_b.id)
    (item_a, resource_a) = made[world.a]
    return Sched(str(item_a), str(resource_a), str(item_b), str(resource_b), str(ids[0]), str(ids[1]), tomorrow)
