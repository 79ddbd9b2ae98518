"""The /v1 OpenAPI document is valid OpenAPI 3.1 and tells the truth: every operation is exercised once against the
real app and its body validated against the schema the document gives for that status (closed schemas, formats
checked), so a serializer that adds, renames or nulls a field without its schema fails here."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import falcon.testing
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import text

from db.engine import transaction
from ingress.api.openapi import OPERATIONS, document
from tests.support import api_world as api
from tests.support.api_world import PHONE, Sched, World, token

jwks = api.jwks
world = api.world
sched = api.sched

DOCUMENT = document()
OPERATION = {(op.method.upper(), op.path): op for op in OPERATIONS}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # The schema's refs point into the document's components: resolve them against the document itself.
    root = {**schema, "components": DOCUMENT["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def documented_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    responses = DOCUMENT["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which it does not document"
    content = responses[str(status)].get("content")
    return None if content is None else content["application/json"]["schema"]


def assert_documented(method: str, path: str, result: falcon.testing.Result) -> None:
    schema = documented_schema(method, path, result.status_code)
    if schema is None:
        assert result.content == b"", (method, path, result.text)
        return
    errors = sorted(_validator(schema).iter_errors(result.json), key=str)
    assert not errors, (method, path, result.status_code, [f"{list(e.absolute_path)}: {e.message}" for e in errors])


class Exercise:
    """Calls the app as a member of tenant A, checks each answer against the document, and counts what it covered."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.covered: set[tuple[str, str]] = set()

    def __call__(self, method: str, template: str, who: str = "owner_a", **kwargs: Any) -> Any:
        ids = kwargs.pop("ids", {})
        path = template.format(**ids)
        result = self.world.call(method, path, who=who, **kwargs)
        op = OPERATION[(method.upper(), template)]
        assert result.status_code == op.status, (method, path, result.status_code, result.text)
        assert_documented(method, template, result)
        self.covered.add((method.upper(), template))
        return result.json if result.content else None


@pytest.fixture
def exercise(world: World) -> Exercise:
    return Exercise(world)


def test_the_document_is_valid_openapi_3_1(world: World) -> None:
    served = world.client.simulate_get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json["openapi"] == "3.1.0"
    validate(served.json)  # openapi-spec-validator: raises on anything 3.1 does not allow


def test_every_operation_has_a_tag_an_id_a_description_and_typed_answers() -> None:
    tags = {tag["name"] for tag in DOCUMENT["tags"]}
    ids = []
    for path, methods in DOCUMENT["paths"].items():
        for method, entry in methods.items():
            op = OPERATION[(method.upper(), path)]
            assert entry["tags"], (method, path)
            assert set(entry["tags"]) <= tags, (method, path)
            assert entry["summary"], (method, path)
            assert entry["description"], (method, path)
            ids.append(entry["operationId"])
            for status, response in entry["responses"].items():
                if status.startswith("2") and status != "204":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.removeprefix("#/components/schemas/") in DOCUMENT["components"]["schemas"]
                if status.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert {"401", "403"} <= set(entry["responses"]), (method, path)
            if op.path_params:
                assert "404" in entry["responses"], (method, path)
            if op.body is not None:
                assert {"400", "413", "422"} <= set(entry["responses"]), (method, path)
                body = entry["requestBody"]
                assert body["required"] == any(f.is_required() for f in op.body.model_fields.values()), (method, path)
    assert len(ids) == len(set(ids)) == len(OPERATIONS)
    # Required bodies are marked so; a body whose every field has a default may be left out.
    assert DOCUMENT["paths"]["/v1/conversations/{conversation_id}/reply"]["post"]["requestBody"]["required"] is True
    assert DOCUMENT["paths"]["/v1/conversations/{conversation_id}/release"]["post"]["requestBody"]["required"] is False


def test_response_schemas_are_closed() -> None:
    """``additionalProperties: false`` on every response object, so an undocumented field fails validation."""
    schemas = DOCUMENT["components"]["schemas"]
    referenced = {op.response.__name__ for op in OPERATIONS if op.response is not None}
    for name in referenced:
        assert schemas[name].get("additionalProperties") is False, name
    # And the check does catch one: a real conversation with one field more is refused.
    check = _validator({"$ref": "#/components/schemas/Conversation"})
    conversation = {
        "id": str(uuid.uuid4()),
        "caller": PHONE,
        "caller_name": None,
        "state": "open",
        "human_user_id": None,
        "human_lease_expires_at": None,
        "opened_at": "2025-03-12T15:00:00+00:00",
        "updated_at": "2025-03-12T15:00:00+00:00",
        "closed_at": None,
    }
    assert check.is_valid(conversation)
    assert not check.is_valid({**conversation, "seq": 1})
    assert not check.is_valid({**conversation, "state": "sleeping"})
    assert not check.is_valid({**conversation, "opened_at": "yesterday"})
    assert check.is_valid({**conversation, "caller_name": "Maria Lopez"})
    assert not check.is_valid({key: value for key, value in conversation.items() if key != "caller_name"})


def test_every_operation_answers_as_documented(world: World, sched: Sched, exercise: Exercise) -> None:
    call = exercise
    conv = {"conversation_id": world.conv_a}
    # Identity and conversations.
    me = call("get", "/v1/me")
    assert me["tenant"]["id"] == str(world.a)
    call("get", "/v1/conversations", params={"limit": "10"})
    call("get", "/v1/conversations/{conversation_id}", ids=conv)
    call("post", "/v1/conversations/{conversation_id}/takeover", ids=conv, json={"lease_minutes": 10})
    call("post", "/v1/conversations/{conversation_id}/reply", ids=conv, json={"body": "On my way"})
    detail = call("get", "/v1/conversations/{conversation_id}", ids=conv)
    assert [message["purpose"] for message in detail["messages"]] == ["human_reply"]
    call("post", "/v1/conversations/{conversation_id}/release", ids=conv)
    call("post", "/v1/conversations/{conversation_id}/close", ids=conv, json={"reason": "done"})
    # Tasks: tenant B has one, done by its owner.
    call("get", "/v1/tasks", params={"status": "all"})
    call("post", "/v1/tasks/{task_id}/done", who="owner_b", ids={"task_id": world.task_b})
    # Compliance.
    call("get", "/v1/compliance")
    campaign = {
        "description": "Replies to callers who missed us, to quote and book a visit.",
        "message_samples": ["Sorry we missed your call, how can we help?", "Your visit is booked for 9am."],
        "message_flow": "The caller phones the business and the SMS follows the missed call.",
    }
    call("post", "/v1/compliance/campaign", json=campaign)
    call("post", "/v1/compliance/brand", json={"legal_name": "A Plumbing LLC", "ein": "12-3456789"})
    # Team: invite, accept as the invited address, change the role, remove; revoke another.
    members = call("get", "/v1/users")["items"]
    tech = next(member for member in members if member["clerk_user_id"] == "tech_a")
    call("patch", "/v1/users/{user_id}", ids={"user_id": tech["user_id"]}, json={"role": "TECH"})
    issued = call("post", "/v1/invitations", json={"email": "newbie@example.com", "role": "TECH"}, headers={})
    call("get", "/v1/invitations")
    newbie = token(world.keys, "newbie", email="newbie@example.com")
    accepted = world.client.simulate_post(
        "/v1/invitations/accept", headers={"Authorization": f"Bearer {newbie}"}, json={"token": issued["token"]}
    )
    assert accepted.status_code == 200, accepted.text
    assert_documented("POST", "/v1/invitations/accept", accepted)
    exercise.covered.add(("POST", "/v1/invitations/accept"))
    call("delete", "/v1/users/{user_id}", ids={"user_id": accepted.json["user_id"]})
    other = call("post", "/v1/invitations", json={"email": "later@example.com", "role": "OWNER"})
    call("delete", "/v1/invitations/{invitation_id}", ids={"invitation_id": other["id"]})
    # Billing: before Stripe said anything, then with a subscription.
    call("get", "/v1/feature-gates")
    call("get", "/v1/settings/lifecycle")
    call(
        "patch", "/v1/settings/lifecycle", json={"reminder_offsets_minutes": [1440, 60], "follow_up_delay_minutes": 120}
    )
    # Settings: the callback grace period.
    assert call("get", "/v1/settings/calls") == {"callback_grace_seconds": 0}
    assert call("patch", "/v1/settings/calls", json={"callback_grace_seconds": 45}) == {"callback_grace_seconds": 45}
    assert call("get", "/v1/billing/subscription") == {"subscription": None}
    with transaction(world.sessions) as session:
        session.execute(
            text(
                "INSERT INTO bill_subscriptions (id, tenant_id, stripe_subscription_id, stripe_customer_id, plan,"
                " status, current_period_end, source_created) VALUES (:id, :t, :s, 'cus_1', 'starter', 'active',"
                " now() + interval '30 days', 1)"
            ),
            {"id": uuid.uuid4(), "t": world.a, "s": f"sub_{uuid.uuid4().hex}"},
        )
    assert call("get", "/v1/billing/subscription")["subscription"]["status"] == "active"
    # Catalog.
    call("get", "/v1/service-items", params={"active": "true"})
    item = call(
        "post",
        "/v1/service-items",
        json={"name": "Drain cleaning", "duration_minutes": 45, "price": {"amount_cents": 9900}, "aliases": ["drain"]},
    )
    item_id = {"service_item_id": item["id"]}
    call("get", "/v1/service-items/match", params={"text": "my drain is blocked"})
    call("get", "/v1/service-items/{service_item_id}", ids=item_id)
    call("patch", "/v1/service-items/{service_item_id}", ids=item_id, json={"description": "Any drain"})
    call("delete", "/v1/service-items/{service_item_id}", ids=item_id)
    # Scheduling.
    call("get", "/v1/resources")
    week = [{"weekday": day, "starts": "08:00", "ends": "18:00"} for day in range(7)]
    van = call("post", "/v1/resources", json={"name": "Van 2", "timezone": "America/Chicago", "working_hours": week})
    van_id = {"resource_id": van["id"]}
    call("put", "/v1/resources/{resource_id}/working-hours", ids=van_id, json={"shifts": week[:5]})
    call("put", "/v1/resources/{resource_id}/services", ids=van_id, json={"service_item_ids": [sched.item_a]})
    far = (sched.tomorrow + timedelta(days=300)).date()
    days_off = {"first_day": far.isoformat(), "last_day": far.isoformat(), "resource_id": van["id"]}
    call("post", "/v1/time-off", json=days_off)
    call("get", "/v1/resources/{resource_id}", ids=van_id)
    call("get", "/v1/time-off", params={"resource_id": van["id"]})
    window = {"from": sched.tomorrow.isoformat(), "to": (sched.tomorrow + timedelta(days=1)).isoformat()}
    wanted = {"service_item_id": sched.item_a, "preference": "mornings", **window}
    slots = call("get", "/v1/availability", params=wanted)
    assert slots["slots"]
    # Bookings: a hold confirmed, a hold released, an appointment booked, moved and cancelled.
    at = lambda hour: (sched.tomorrow + timedelta(hours=hour)).isoformat()  # noqa: E731
    slot = {"resource_id": sched.resource_a, "service_item_id": sched.item_a}
    hold = call("post", "/v1/holds", json={**slot, "starts_at": at(9), "customer_phone": PHONE})
    call("post", "/v1/holds/{hold_id}/confirm", ids={"hold_id": hold["id"]})
    spare = call("post", "/v1/holds", json={**slot, "starts_at": at(15)})
    call("post", "/v1/holds/{hold_id}/release", ids={"hold_id": spare["id"]})
    booked = call("post", "/v1/appointments", json={**slot, "starts_at": at(11), "customer_phone": PHONE})
    appointment = {"appointment_id": booked["id"]}
    call("get", "/v1/appointments", params={"status": "booked"})
    call("get", "/v1/appointments/{appointment_id}", ids=appointment)
    call("post", "/v1/appointments/{appointment_id}/reschedule", ids=appointment, json={"starts_at": at(13)})
    call("post", "/v1/appointments/{appointment_id}/cancel", ids=appointment)
    # Reports.
    call("get", "/v1/reports", params={"days": "3"})
    assert exercise.covered == set(OPERATION), sorted(set(OPERATION) - exercise.covered)


def test_error_answers_match_the_error_schema(world: World, sched: Sched) -> None:
    at = (sched.tomorrow + timedelta(hours=10)).isoformat()
    book = {"resource_id": sched.resource_a, "service_item_id": sched.item_a, "starts_at": at, "customer_phone": PHONE}
    assert world.call("post", "/v1/appointments", json=book).status_code == 201
    cases = [
        ("POST", "/v1/appointments", world.call("post", "/v1/appointments", json=book), 409),
        ("POST", "/v1/appointments", world.call("post", "/v1/appointments", json={**book, "starts_at": "x"}), 422),
        ("POST", "/v1/appointments", world.call("post", "/v1/appointments", body=b"[1]"), 400),
        ("GET", "/v1/users", world.call("get", "/v1/users", who="tech_a"), 403),
        ("GET", "/v1/me", world.client.simulate_get("/v1/me"), 401),
        (
            "GET",
            "/v1/conversations/{conversation_id}",
            world.call("get", f"/v1/conversations/{world.conv_b}"),
            404,
        ),
    ]
    for method, path, result, status in cases:
        assert result.status_code == status, (method, path, result.text)
        assert_documented(method, path, result)
    conflict = cases[0][2].json["error"]
    assert conflict["code"] == "slot_unavailable"
    assert conflict["alternatives"], conflict
