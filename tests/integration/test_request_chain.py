"""An API request has no cause event: the events it raises start a chain under the request's correlation id."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import text

from db.engine import transaction
from domain.events.catalog import TenantCreated
from domain.events.sink import RootSink
from ops.tenants import create_tenant_with_campaign
from tests.support import api_world as api
from tests.support.api_world import PHONE, Sched

jwks = api.jwks
world = api.world
sched = api.sched


def _at(sched: Sched, hour: int) -> str:
    return (sched.tomorrow + timedelta(hours=hour)).isoformat()


def _request_events(world: api.World, hold_id: str) -> list[Any]:
    with world.sessions() as session:
        return list(
            session.execute(
                text(
                    "SELECT event_name, correlation_id, causation_id FROM outbox_events"
                    " WHERE payload->>'hold_id' = :hold ORDER BY seq"
                ),
                {"hold": hold_id},
            )
        )


def test_an_api_request_starts_one_chain_under_its_correlation_id(world: api.World, sched: Sched) -> None:
    body = {"resource_id": sched.resource_a, "service_item_id": sched.item_a, "starts_at": _at(sched, 9)}
    given = uuid.uuid4()
    held = world.call(
        "post", "/v1/holds", who="tech_a", json={**body, "customer_phone": PHONE}, headers={"X-Request-Id": str(given)}
    )
    assert held.status_code == 201, held.text
    hold_id = held.json["id"]
    confirmed = world.call("post", f"/v1/holds/{hold_id}/confirm", json={})  # no header: the middleware mints one
    assert confirmed.status_code == 201, confirmed.text
    minted = uuid.UUID(confirmed.headers["X-Correlation-Id"])

    placed, booked = _request_events(world, hold_id)
    assert (placed.event_name, placed.correlation_id, placed.causation_id) == ("nmc.scheduling.HoldPlaced", given, None)
    assert (booked.event_name, booked.correlation_id, booked.causation_id) == (
        "nmc.scheduling.AppointmentBooked",
        minted,
        None,
    )


def test_a_root_sink_without_a_correlation_id_makes_its_first_event_the_chains_root(world: api.World) -> None:
    # What a CLI command or a scheduler job does: no request id, one chain for everything the command raises.
    with transaction(world.sessions) as session:
        events = RootSink(session)
        first = events.emit(TenantCreated(name="Ace", phone_number="+13105550100", timezone="UTC"), tenant_id=world.a)
        second = events.emit(TenantCreated(name="Ace", phone_number="+13105550100", timezone="UTC"), tenant_id=world.a)
    assert (first.correlation_id, first.causation_id) == (first.event_id, None)
    assert (second.correlation_id, second.causation_id) == (first.event_id, None)


def test_a_cli_command_raises_its_events_in_one_chain(world: api.World) -> None:
    with transaction(world.sessions) as session:
        made = create_tenant_with_campaign(
            session,
            name="Chain Plumbing",
            number="+13105550177",
            forward_to="+13105550178",
            timezone="UTC",
            campaign="approved",
            plan="pro",
        )
        rows = session.execute(
            text(
                "SELECT event_id, event_name, correlation_id, causation_id FROM outbox_events"
                " WHERE tenant_id = :tenant ORDER BY seq"
            ),
            {"tenant": made["id"]},
        ).all()
    created, changed = rows
    assert (created.event_name, changed.event_name) == (
        "nmc.identity.TenantCreated",
        "nmc.compliance.CampaignStatusChanged",
    )
    assert created.correlation_id == changed.correlation_id == created.event_id
    assert (created.causation_id, changed.causation_id) == (None, None)


def test_a_finished_request_leaves_no_correlation_id_bound_to_its_thread(world: api.World) -> None:
    # gthread workers reuse threads: a line logged after the request must not carry its id.
    answered = world.call("get", "/v1/conversations", headers={"X-Request-Id": str(uuid.uuid4())})
    assert answered.status_code == 200, answered.text
    assert structlog.contextvars.get_contextvars() == {}
