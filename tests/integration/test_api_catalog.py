"""/v1/service-items through falcon.testing: CRUD, aliases, deactivation, matching, validation, roles, isolation."""

from __future__ import annotations

import uuid
from typing import Any

from db.engine import transaction
from domain.catalog import service as catalog
from domain.events.sink import RootSink
from tests.support import api_world as api

# The operator-API world (two tenants, OWNER/TECH members, a local JWKS), shared by the /v1 tests.
jwks = api.jwks
world = api.world
World = api.World

PLUMBING = {
    "name": "Leak repair",
    "duration_minutes": 90,
    "price": {"amount_cents": 12500, "currency": "USD"},
    "aliases": ["Leaking pipe", "drip"],
    "description": "Fix a leaking pipe or fitting",
}


def _other_tenants_item(world: api.World) -> str:
    with transaction(world.sessions) as session:
        item = catalog.create_service_item(
            session,
            tenant_id=world.b,
            name="B's secret",
            duration_minutes=30,
            price_cents=100,
            events=RootSink(session),
        )
        return str(item.id)


def test_create_get_list_update_and_deactivate(world: api.World) -> None:
    created = world.call("post", "/v1/service-items", who="tech_a", json=PLUMBING)
    assert created.status_code == 201, created.text
    item = created.json
    assert item["name"] == "Leak repair"
    assert item["price"] == {"amount_cents": 12500, "currency": "USD"}
    assert item["aliases"] == ["drip", "leaking pipe"]
    assert item["active"] is True
    path = f"/v1/service-items/{item['id']}"
    assert world.call("get", path).json == item

    changed = world.call(
        "patch", path, json={"duration_minutes": 120, "price": {"amount_cents": 15000}, "aliases": ["burst pipe"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json["duration_minutes"] == 120
    assert changed.json["price"] == {"amount_cents": 15000, "currency": "USD"}
    assert changed.json["aliases"] == ["burst pipe"]
    assert changed.json["name"] == "Leak repair"  # untouched

    other = world.call(
        "post",
        "/v1/service-items",
        json={"name": "Drain cleaning", "duration_minutes": 60, "price": {"amount_cents": 0}},
    )
    assert other.status_code == 201
    listed = world.call("get", "/v1/service-items").json["items"]
    assert [entry["name"] for entry in listed] == ["Drain cleaning", "Leak repair"]

    gone = world.call("delete", path, who="tech_a")
    assert gone.status_code == 200
    assert gone.json["active"] is False
    assert world.call("get", path).json["active"] is False  # deactivated, not deleted
    assert [i["name"] for i in world.call("get", "/v1/service-items", params={"active": "true"}).json["items"]] == [
        "Drain cleaning"
    ]
    assert [i["name"] for i in world.call("get", "/v1/service-items", params={"active": "false"}).json["items"]] == [
        "Leak repair"
    ]
    assert api.outbox_names(world, world.a).count("nmc.catalog.ServiceItemChanged") == 4


def test_match_finds_active_items_by_alias_and_typo(world: api.World) -> None:
    item = world.call("post", "/v1/service-items", json=PLUMBING).json
    found = world.call("get", "/v1/service-items/match", params={"text": "my pipe is leeking"}).json["items"]
    assert found[0]["service_item_id"] == item["id"]
    assert 0 < found[0]["confidence"] <= 1
    world.call("delete", f"/v1/service-items/{item['id']}")
    assert world.call("get", "/v1/service-items/match", params={"text": "leaking pipe"}).json["items"] == []


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 481}, "duration_minutes"),
    ({"duration_minutes": "long"}, "duration_minutes"),
    ({"price": {"amount_cents": -1, "currency": "USD"}}, "price.amount_cents"),
    ({"price": {"amount_cents": 100, "currency": "usd"}}, "price.currency"),
    ({"price": {"amount_cents": 100, "currency": "DOLLARS"}}, "price.currency"),
    ({"name": "   "}, "name"),
    ({"unknown": 1}, "unknown"),
]


def test_invalid_items_are_422_naming_the_field(world: api.World) -> None:
    item = world.call("post", "/v1/service-items", json={**PLUMBING, "name": "valid", "aliases": []}).json
    for change, field in INVALID:
        result = world.call("post", "/v1/service-items", json={**PLUMBING, **change})
        assert result.status_code == 422, (change, result.text)
        assert result.json["error"]["code"] == "validation_failed"
        assert result.json["error"]["message"].startswith(f"{field}:"), result.json
        # The same rules hold for a change to an existing item.
        patched = world.call("patch", f"/v1/service-items/{item['id']}", json=change)
        assert patched.status_code == 422, (change, patched.text)
        assert patched.json["error"]["message"].startswith(f"{field}:")
    assert [i["name"] for i in world.call("get", "/v1/service-items").json["items"]] == ["valid"]


def test_duplicate_names_and_aliases_are_409(world: api.World) -> None:
    assert world.call("post", "/v1/service-items", json=PLUMBING).status_code == 201
    again = world.call("post", "/v1/service-items", json={**PLUMBING, "aliases": []})
    assert again.status_code == 409
    assert again.json["error"]["code"] == "duplicate_name"
    alias = world.call("post", "/v1/service-items", json={**PLUMBING, "name": "Other", "aliases": ["DRIP"]})
    assert alias.status_code == 409
    assert alias.json["error"]["code"] == "duplicate_alias"
    # Another tenant's catalog is its own: same name and alias are fine there.
    assert world.call("post", "/v1/service-items", who="owner_b", json=PLUMBING).status_code == 201


def test_another_tenants_item_is_404_and_never_listed(world: api.World) -> None:
    theirs = _other_tenants_item(world)
    path = f"/v1/service-items/{theirs}"
    for method, body in (("get", None), ("patch", {"name": "mine now"}), ("delete", None)):
        result = world.call(method, path, json=body)
        assert result.status_code == 404, (method, result.text)
        assert result.json["error"]["code"] == "not_found"
    assert world.call("get", "/v1/service-items").json["items"] == []
    assert world.call("get", "/v1/service-items/not-a-uuid").status_code == 404
    with transaction(world.sessions) as session:
        untouched = catalog.get_service_item(session, tenant_id=world.b, service_item_id=uuid.UUID(theirs))
        assert untouched.name == "B's secret"


def test_owner_and_tech_may_write_the_catalog_strangers_may_not(world: api.World) -> None:
    for who, name in (("owner_a", "One"), ("tech_a", "Two")):
        assert (
            world.call("post", "/v1/service-items", who=who, json={**PLUMBING, "name": name, "aliases": []}).status_code
            == 201
        )
    stranger = world.call("post", "/v1/service-items", who="user_nobody", json=PLUMBING)
    assert stranger.status_code == 403
    assert world.client.simulate_get("/v1/service-items").status_code == 401


def test_idempotency_key_replays_a_create(world: api.World) -> None:
    headers = {"Idempotency-Key": "create-leak"}
    first = world.call("post", "/v1/service-items", json=PLUMBING, headers=headers)
    again = world.call("post", "/v1/service-items", json=PLUMBING, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = world.call("post", "/v1/service-items", json={**PLUMBING, "name": "x"}, headers=headers)
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert len(world.call("get", "/v1/service-items").json["items"]) == 1
