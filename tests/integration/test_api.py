"""The /v1 operator API through falcon.testing with real Clerk-style RS256 JWTs served from a local JWKS over HTTP."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import falcon.inspect
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from db.engine import transaction
from ingress.api.openapi import DESCRIBING_ROUTES, OPERATIONS, document
from tests.support import api_world
from tests.support.api_world import World, json_values, outbox_names
from tests.support.clerk_jwks import ISSUER, PARTY, Keys, token

jwks = api_world.jwks
world = api_world.world

# --- authentication -------------------------------------------------------------------------------------------


def _bad_tokens(keys: Keys) -> dict[str, str]:
    now = int(time.time())
    public_pem = keys.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": "k1", "typ": "JWT"}).encode()).decode()
    claims = {"sub": "owner_a", "iss": ISSUER, "azp": PARTY, "iat": now, "exp": now + 60}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    valid = token(keys, "owner_a")
    head, _payload, signature = valid.split(".")
    tampered = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "owner_b"}).encode()).decode()
    import hashlib
    import hmac as _hmac

    hs_signature = jwt.utils.base64url_encode(
        _hmac.new(
            public_pem, f"{_b64({'alg': 'HS256', 'kid': 'k1', 'typ': 'JWT'})}.{body}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    return {
        "forged": f"{head}.{tampered}.{signature}",
        "expired": token(keys, "owner_a", exp=now - 10, iat=now - 100, nbf=now - 100),
        "not_yet_valid": token(keys, "owner_a", nbf=now + 60),
        "wrong_issuer": token(keys, "owner_a", iss="https://evil.example"),
        "wrong_azp": token(keys, "owner_a", azp="https://evil.example"),
        "no_azp": token(keys, "owner_a", azp=None),
        "alg_none": f"{header}.{body}.",
        "hs256_with_public_key": f"{_b64({'alg': 'HS256', 'kid': 'k1', 'typ': 'JWT'})}.{body}.{hs_signature}",
        "wrong_key": token(keys, "owner_a", key=keys.other),
        "unknown_kid": token(keys, "owner_a", key=keys.other, kid="k9"),
        "garbage": "not.a.jwt",
    }


def _b64(value: dict[str, Any]) -> str:
    return jwt.utils.base64url_encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "case",
    [
        "forged",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_azp",
        "no_azp",
        "alg_none",
        "hs256_with_public_key",
        "wrong_key",
        "unknown_kid",
        "garbage",
    ],
)
def test_bad_tokens_are_401(world: World, case: str) -> None:
    bad = _bad_tokens(world.keys)[case]
    result = world.client.simulate_get("/v1/me", headers={"Authorization": f"Bearer {bad}"})
    assert result.status_code == 401, result.text
    assert result.json["error"]["code"] == "unauthorized"


def test_missing_token_is_401_and_leeway_is_five_seconds(world: World) -> None:
    assert world.client.simulate_get("/v1/me").status_code == 401
    now = int(time.time())
    assert world.call("get", "/v1/me").status_code == 200
    slightly_late = token(world.keys, "owner_a", exp=now - 2, iat=now - 60, nbf=now - 60)
    result = world.client.simulate_get("/v1/me", headers={"Authorization": f"Bearer {slightly_late}"})
    assert result.status_code == 200
    assert result.json["role"] == "OWNER"
    assert result.json["tenant"]["id"] == str(world.a)


def test_a_stranger_with_a_valid_token_is_403(world: World) -> None:
    result = world.call("get", "/v1/me", who="user_nobody")
    assert result.status_code == 403
    assert world.call("get", "/v1/me", headers={"X-Tenant-Id": str(world.b)}).status_code == 403


# --- authorisation and isolation -------------------------------------------------------------------------------

OWNER_ONLY = [(op.method, op.path) for op in OPERATIONS if op.owner_only]


def _concrete(path: str, world: World) -> str:
    path = path.replace("{user_id}", str(world.user_b)).replace("{conversation_id}", str(world.conv_a))
    # Any other id: well formed but nobody's (a malformed one is the router's 404, before any hook runs).
    return re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path)


@pytest.mark.parametrize(("method", "path"), OWNER_ONLY)
def test_tech_on_an_owner_route_is_403(world: World, method: str, path: str) -> None:
    result = world.call(method, _concrete(path, world), who="tech_a", json={})
    assert result.status_code == 403
    assert result.json["error"]["code"] == "forbidden"


def test_every_route_with_an_id_is_404_for_another_tenants_resource(world: World) -> None:
    ids = {"{conversation_id}": world.conv_b, "{task_id}": world.task_b, "{user_id}": world.user_b}
    checked = 0
    for op in OPERATIONS:
        if not op.path_params:
            continue
        path = op.path
        for name, value in ids.items():
            path = path.replace(name, str(value))
        body = {"body": "hi"} if path.endswith("/reply") else ({"role": "TECH"} if op.method == "patch" else {})
        result = world.call(op.method, path, json=body if op.method in ("post", "patch") else None)
        assert result.status_code == 404, (op.method, op.path, result.text)
        assert result.json["error"]["code"] == "not_found"
        checked += 1
    assert checked >= 8
    listed = world.call("get", "/v1/conversations").json["items"]
    assert [item["id"] for item in listed] == [str(world.conv_a)]
    assert world.call("get", "/v1/tasks?status=all").json["items"] == []
    assert {member["clerk_user_id"] for member in world.call("get", "/v1/users").json["items"]} == {"owner_a", "tech_a"}


# --- behaviour -----------------------------------------------------------------------------------------------


def test_takeover_reply_release_close(world: World) -> None:
    base = f"/v1/conversations/{world.conv_a}"
    taken = world.call("post", f"{base}/takeover", who="tech_a", json={"lease_minutes": 5})
    assert taken.status_code == 200
    assert taken.json["state"] == "human"
    # Another operator cannot grab a live lease.
    assert world.call("post", f"{base}/takeover", who="owner_a").status_code == 409
    reply = world.call("post", f"{base}/reply", who="tech_a", json={"body": "On our way at 3pm"})
    assert reply.status_code == 202
    assert reply.json["purpose"] == "human_reply"
    assert reply.json["status"] == "pending"
    detail = world.call("get", base).json
    assert [m["body"] for m in detail["messages"]] == ["On our way at 3pm"]
    assert world.call("post", f"{base}/release", who="tech_a").json["state"] == "open"
    assert world.call("post", f"{base}/reply", json={"body": "x"}).status_code == 409  # not taken over
    assert world.call("post", f"{base}/close", json={"reason": "done"}).json["state"] == "closed"
    assert world.call("post", f"{base}/close").status_code == 409
    assert outbox_names(world, world.a)[-4:] == [
        "nmc.conversations.HumanTakeoverRequested",
        "nmc.conversations.OutboundMessageRequested",
        "nmc.conversations.HumanTakeoverReleased",
        "nmc.conversations.ConversationClosed",
    ]


def test_a_reply_from_a_business_with_no_number_yet_is_409_no_number_and_sends_nothing(world: World) -> None:
    base = f"/v1/conversations/{world.conv_a}"
    assert world.call("post", f"{base}/takeover", who="tech_a").status_code == 200
    with transaction(world.sessions) as session:
        session.execute(text("DELETE FROM id_phone_numbers WHERE tenant_id = :t"), {"t": world.a})
    reply = world.call("post", f"{base}/reply", who="tech_a", json={"body": "On our way"})
    assert reply.status_code == 409
    assert reply.json["error"]["code"] == "no_number"
    assert outbox_names(world, world.a)[-1] == "nmc.conversations.HumanTakeoverRequested"


def test_an_operators_reply_is_stored_with_its_segments_and_encoding(world: World) -> None:
    # The reply used to skip the outbound insert every other sender uses: 0 segments and no encoding.
    base = f"/v1/conversations/{world.conv_a}"
    assert world.call("post", f"{base}/takeover", who="tech_a").status_code == 200
    body = "Running 10 min late — sorry! " * 6  # the dash makes it UCS-2; 174 units is three segments
    reply = world.call("post", f"{base}/reply", who="tech_a", json={"body": body})
    assert reply.status_code == 202
    with world.sessions() as session:
        row = session.execute(
            text("SELECT segments, encoding FROM conv_messages WHERE id = :id"), {"id": reply.json["id"]}
        ).one()
    assert (row.segments, row.encoding) == (3, "UCS-2")


def test_conversation_list_filters_and_paginates(world: World) -> None:
    with transaction(world.sessions) as session:
        for n in range(5):
            session.execute(
                text(
                    "INSERT INTO conv_conversations (id, tenant_id, caller, state, opened_at)"
                    " VALUES (gen_random_uuid(), :t, :c, 'closed', now() - make_interval(mins => :n))"
                ),
                {"t": world.a, "c": f"+1310555020{n}", "n": n + 1},
            )
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "state=closed&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = world.call("get", "/v1/conversations", query_string=query).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert world.call("get", "/v1/conversations", query_string="cursor=garbage").status_code == 400
    assert world.call("get", "/v1/conversations", query_string="state=nope").status_code == 400


DETAILS = {
    "use_case": "CUSTOMER_CARE",
    "description": "Texts back callers whose call we missed and books their service appointment.",
    "message_samples": [
        "Sorry we missed your call! What can we help you with today?",
        "You're booked for Tuesday 9am with Sam. Reply STOP to opt out.",
    ],
    "message_flow": "Callers who ring our number and are not answered get one text; they can reply STOP at any time.",
}


def campaign_row(world: World, tenant_id: uuid.UUID) -> dict[str, Any]:
    with transaction(world.sessions) as session:
        row = session.execute(
            text(
                "SELECT status, status_reason, description, submitted_at, messaging_service_sid"
                " FROM comp_campaigns WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
        return dict(row._mapping)


def status_events(world: World, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    with transaction(world.sessions) as session:
        rows = session.execute(
            text(
                "SELECT schema_version, payload FROM outbox_events"
                " WHERE tenant_id = :t AND event_name = 'nmc.compliance.CampaignStatusChanged' ORDER BY seq"
            ),
            {"t": tenant_id},
        )
        return [{"version": row[0], **row[1]} for row in rows]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "approved"},
        {"status": "approved", "reason": "trust me"},
        {"status": "pending"},
        {**DETAILS, "status": "approved"},
        {"messaging_service_sid": "MG" + "0" * 32},
        {"provider_status": "VERIFIED"},
    ],
)
def test_an_owner_cannot_set_the_campaign_status(world: World, body: dict[str, Any]) -> None:
    before_b, before_a = campaign_row(world, world.b), campaign_row(world, world.a)
    events_b = status_events(world, world.b)
    refused = world.call("post", "/v1/compliance/campaign", who="owner_b", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json["error"]["code"] == "forbidden"
    assert "carrier" in refused.json["error"]["message"]
    # Nor lower an approved one by naming the status, nor through the brand route.
    assert world.call("post", "/v1/compliance/campaign", json={**body, "status": "rejected"}).status_code == 403
    brand = world.call("post", "/v1/compliance/brand", who="owner_b", json={"legal_name": "B", **body})
    assert brand.status_code == 403
    assert campaign_row(world, world.b) == before_b
    assert campaign_row(world, world.a) == before_a
    assert status_events(world, world.b) == events_b
    assert world.call("get", "/v1/compliance", who="owner_b").json["sms_allowed"] is False


def test_a_tech_cannot_touch_the_campaign_or_brand(world: World) -> None:
    before = campaign_row(world, world.a)
    for body in ({"status": "approved"}, DETAILS):
        assert world.call("post", "/v1/compliance/campaign", who="tech_a", json=body).status_code == 403
    assert world.call("post", "/v1/compliance/brand", who="tech_a", json={"legal_name": "A"}).status_code == 403
    assert campaign_row(world, world.a) == before
    # A forged token (signed by another key) is not even a caller.
    forged = token(world.keys, "owner_a", key=world.keys.other)
    result = world.client.simulate_post(
        "/v1/compliance/campaign", headers={"Authorization": f"Bearer {forged}"}, json={"status": "approved"}
    )
    assert result.status_code == 401
    assert campaign_row(world, world.a) == before


def test_submitting_details_leaves_or_makes_the_campaign_pending(world: World) -> None:
    submitted = world.call("post", "/v1/compliance/campaign", who="owner_b", json=DETAILS)
    assert submitted.status_code == 200, submitted.text
    campaign = submitted.json["campaign"]
    assert campaign["status"] == "pending"
    assert campaign["description"] == DETAILS["description"]
    assert campaign["message_samples"] == DETAILS["message_samples"]
    assert campaign["submitted_at"] is not None
    assert campaign["provider"] == {"linked": False, "status": None, "checked_at": None}
    assert status_events(world, world.b) == []  # it was pending already

    # A's campaign was approved: changed details are a new review, so SMS stops until the carrier decides again.
    assert world.call("get", "/v1/compliance").json["sms_allowed"] is True
    changed = world.call("post", "/v1/compliance/campaign", json=DETAILS)
    assert changed.json["campaign"]["status"] == "pending"
    assert changed.json["sms_allowed"] is False
    last = status_events(world, world.a)[-1]
    assert (last["version"], last["previous_status"], last["status"]) == (2, "approved", "pending")
    assert (last["changed_by"], last["provider_ref"]) == ("user:owner_a", None)
    # The same details again are no new review and no new event; nor is B's submission visible to A.
    world.call("post", "/v1/compliance/campaign", json=DETAILS)
    assert len(status_events(world, world.a)) == 2
    assert world.call("post", "/v1/compliance/brand", who="owner_b", json={"legal_name": "B Co"}).status_code == 200
    assert world.call("post", "/v1/compliance/brand", who="owner_b", json={"legal_name": "B Co"}).status_code == 200
    assert world.call("get", "/v1/compliance", who="owner_b").json["brand"] == {"legal_name": "B Co", "ein": None}
    assert world.call("get", "/v1/compliance").json["brand"] is None
    assert status_events(world, world.b) == []


def test_another_tenants_owner_cannot_reach_this_campaign(world: World) -> None:
    before = campaign_row(world, world.a)
    for body in ({"status": "rejected"}, DETAILS):
        result = world.call(
            "post", "/v1/compliance/campaign", who="owner_b", json=body, headers={"X-Tenant-Id": str(world.a)}
        )
        assert result.status_code == 403
        assert result.json["error"]["code"] == "not_a_member"
    assert world.call("get", "/v1/compliance", who="owner_b", headers={"X-Tenant-Id": str(world.a)}).status_code == 403
    assert campaign_row(world, world.a) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ("[]", 400),
        ('"approved"', 400),
        (b"\xff\xfe", 400),
        (json.dumps({**DETAILS, "description": "too short"}), 422),
        (json.dumps({**DETAILS, "message_samples": ["only one sample, long enough"]}), 422),
        (json.dumps({**DETAILS, "message_samples": "not a list of samples at all"}), 422),
        (json.dumps({**DETAILS, "use_case": "MARKETING_BLAST"}), 422),
        (json.dumps({**DETAILS, "extra": 1}), 422),
        (json.dumps({k: v for k, v in DETAILS.items() if k != "message_flow"}), 422),
    ],
)
def test_malformed_campaign_bodies_are_4xx_and_change_nothing(world: World, body: str | bytes, status: int) -> None:
    before = campaign_row(world, world.a)
    result = world.call("post", "/v1/compliance/campaign", body=body)
    assert result.status_code == status, result.text
    assert result.json["error"]["code"] == ("malformed" if status == 400 else "validation_failed")
    assert campaign_row(world, world.a) == before


def test_idempotency_key_replays_and_refuses_another_body(world: World) -> None:
    headers = {"Idempotency-Key": "brand-1"}
    first = world.call("post", "/v1/compliance/brand", json={"legal_name": "Ace LLC"}, headers=headers)
    again = world.call("post", "/v1/compliance/brand", body='{ "legal_name":  "Ace LLC"}', headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json == again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = world.call("post", "/v1/compliance/brand", json={"legal_name": "Other LLC"}, headers=headers)
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    # Without the key the request really is made again.
    repeated = world.call("post", "/v1/compliance/brand", json={"legal_name": "Ace LLC"})
    assert repeated.status_code == 200
    assert repeated.headers.get("Idempotent-Replayed") is None
    # Keys are per tenant: B may use the same key for its own request.
    theirs = world.call("post", "/v1/compliance/brand", who="owner_b", json={"legal_name": "Bee LLC"}, headers=headers)
    assert theirs.status_code == 200
    assert theirs.json["brand"]["legal_name"] == "Bee LLC"


def test_gates_and_users_management(world: World) -> None:
    gates = world.call("get", "/v1/feature-gates", who="tech_a").json
    assert gates["plan"] == "starter"
    assert gates["gates"]["sms"] is True
    assert world.call("get", "/v1/billing/subscription").json == {"subscription": None}
    members = {m["clerk_user_id"]: m["user_id"] for m in world.call("get", "/v1/users").json["items"]}
    promoted = world.call("patch", f"/v1/users/{members['tech_a']}", json={"role": "OWNER"})
    assert promoted.status_code == 200
    assert promoted.json["role"] == "OWNER"
    assert world.call("delete", f"/v1/users/{members['owner_a']}").status_code == 204
    assert world.call("get", "/v1/me", who="owner_a").status_code == 403


# --- row-level security ------------------------------------------------------------------------------------------


def test_the_app_role_sees_nothing_without_a_tenant_and_only_its_tenant_with_one(world: World, engine: Engine) -> None:
    tables = [
        "conv_conversations",
        "id_phone_numbers",
        "comp_campaigns",
        "id_memberships",
        "id_invitations",
        "id_users",
        "id_tenants",
        "conv_operator_tasks",
        "id_feature_gates",
    ]
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL ROLE nmc_app"))
        for table in tables:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
        # A buggy query with no tenant filter, inside tenant A's scope, still sees only A.
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.a)})
        tenants = {row[0] for row in conn.execute(text("SELECT tenant_id FROM conv_conversations"))}
        assert tenants == {world.a}
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO conv_operator_tasks (id, tenant_id, kind, note)"
                    " VALUES (gen_random_uuid(), :b, 'x', 'y')"
                ),
                {"b": world.b},
            )
    with engine.connect() as conn:
        # Every table with a tenant_id column is covered: a later migration must call nmc_enable_tenant_rls.
        missing = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'tenant_id'"
                    " AND NOT c.relrowsecurity"
                )
            )
            .scalars()
            .all()
        )
        assert missing == []


# The pipeline's bookkeeping: the API appends events to the outbox and touches nothing else of it.
BOOKKEEPING = ("outbox_deliveries", "processed_events", "dead_letters", "webhook_events", "alembic_version")


def test_the_app_role_only_appends_to_the_outbox_and_never_touches_the_pipelines_bookkeeping(
    world: World, engine: Engine
) -> None:
    with engine.connect() as conn, conn.begin():
        event = conn.execute(text("SELECT event_id FROM outbox_events WHERE tenant_id = :t LIMIT 1"), {"t": world.a})
        event_id = event.scalar_one()
        conn.execute(text("SET LOCAL ROLE nmc_app"))
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(world.a)})
        refused = [
            "SELECT count(*) FROM outbox_events",
            "UPDATE outbox_events SET dispatched_at = now()",
            "DELETE FROM outbox_events",
            "TRUNCATE outbox_events CASCADE",
            # An event posing as already dispatched (or back-dated) would skip the dispatcher.
            "INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id,"
            " payload, dispatched_at) VALUES (gen_random_uuid(), 'nmc.telephony.CallMissed', 1, :t, now(),"
            " gen_random_uuid(), '{}', now())",
        ]
        for table in BOOKKEEPING:
            refused += [f"SELECT * FROM {table}", f"UPDATE {table} SET {_first_column(conn, table)} = NULL"]
            refused += [f"DELETE FROM {table}", f"INSERT INTO {table} DEFAULT VALUES"]
        for statement in refused:
            savepoint = conn.begin_nested()
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text(statement), {"t": world.a, "e": event_id})
            savepoint.rollback()
        # What the API does: append an event of its tenant, naming only the envelope's columns.
        conn.execute(
            text(
                "INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, occurred_at,"
                " correlation_id, causation_id, payload) VALUES (gen_random_uuid(), 'nmc.telephony.CallMissed', 1,"
                " :t, now(), :e, :e, '{}')"
            ),
            {"t": world.a, "e": event_id},
        )


def test_the_app_role_reaches_no_table_outside_row_level_security_but_the_plans(engine: Engine) -> None:
    """A new table is the app role's by default privileges: one without a tenant (so without RLS) is bookkeeping
    or reference data, and must be revoked from nmc_app (or added here, read-only, after thought)."""
    with engine.connect() as conn:
        reachable = conn.execute(
            text(
                "SELECT c.relname, has_table_privilege('nmc_app', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity"
                " AND (has_table_privilege('nmc_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')"
                "      OR has_any_column_privilege('nmc_app', c.oid, 'SELECT, INSERT, UPDATE'))"
                " ORDER BY 1"
            )
        ).all()
    assert [tuple(row) for row in reachable] == [("bill_plan_prices", False), ("id_plans", False)]


def _first_column(conn: Any, table: str) -> str:
    return str(
        conn.execute(
            text("SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum = 1"), {"t": table}
        ).scalar_one()
    )


# --- the OpenAPI document, and generated requests over it ---------------------------------------------------------


def test_openapi_document_is_served_and_lists_every_route(world: World) -> None:
    served = world.client.simulate_get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(json.dumps(document()))
    assert served.json["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, methods in served.json["paths"].items() for method in methods}
    assert documented == {(op.method.upper(), op.path) for op in OPERATIONS}
    assert len([m for path in served.json["paths"].values() for m in path]) == len(OPERATIONS)  # none twice
    # What the app routes, from Falcon itself: every /v1 responder but the document's own route.
    app = world.client.app
    routed = {
        (method.method, route.path)
        for route in falcon.inspect.inspect_routes(app)
        if route.path.startswith("/v1/") and route.path not in DESCRIBING_ROUTES
        for method in route.methods
        if not method.internal
    }
    # Each documented operation lands on one of those routes and responders, ids filled in (the router converts them).
    landed = set()
    for method, path in documented:
        found = app._router.find(re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path))
        assert found is not None, (method, path)
        _resource, responders, _params, template = found
        assert template is not None
        assert not getattr(responders[method], "__name__", "").startswith("method_not_allowed"), (method, path)
        landed.add((method, template))
    assert landed == routed


def _v1_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every /v1 responder, from Falcon's router, with the converters stripped."""
    return {
        (method.method, re.sub(r"{(\w+):\w+}", r"{\1}", route.path))
        for route in falcon.inspect.inspect_routes(app)
        if route.path.startswith("/v1/") and route.path not in DESCRIBING_ROUTES
        for method in route.methods
        if not method.internal
    }


def test_openapi_paths_are_exactly_the_route_table(world: World) -> None:
    documented = {(method.upper(), path) for path, methods in document()["paths"].items() for method in methods}
    routed = _v1_routes(world.client.app)
    assert routed == documented, (sorted(routed - documented), sorted(documented - routed))
    # No catch-all: each action is a route of its own, documented one by one.
    assert not [path for _method, path in routed if "{action}" in path]
    for action in ("takeover", "reply", "release", "close"):
        assert ("POST", f"/v1/conversations/{{conversation_id}}/{action}") in routed
    for action in ("confirm", "release"):
        assert ("POST", f"/v1/holds/{{hold_id}}/{action}") in routed
    for action in ("cancel", "reschedule"):
        assert ("POST", f"/v1/appointments/{{appointment_id}}/{action}") in routed
    assert ("POST", "/v1/tasks/{task_id}/done") in routed


def test_every_path_id_is_a_uuid_in_the_router(world: World) -> None:
    templates = {route.path for route in falcon.inspect.inspect_routes(world.client.app)}
    ids = [name for path in templates for name in re.findall(r"{(\w+)}", path)]
    assert ids == [], ids  # every {x_id} carries the :uuid converter
    assert any(":uuid}" in path for path in templates)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/v1/holds/{id}/frobnicate", 404),
        ("post", "/v1/appointments/{id}/frobnicate", 404),
        ("post", "/v1/conversations/{id}/frobnicate", 404),
        ("post", "/v1/tasks/{id}/undo", 404),
        ("get", "/v1/holds/{id}/confirm", 405),
        ("get", "/v1/conversations/{id}/reply", 405),
        ("post", "/v1/appointments/not-a-uuid/cancel", 404),
        ("get", "/v1/resources/" + "１" * 32, 404),
        ("get", "/v1/conversations/" + "１" * 32, 404),
        ("get", "/v1/appointments/{" + "1" * 32 + "}x", 404),
    ],
)
def test_unknown_actions_and_malformed_ids_are_the_routers_4xx_in_our_shape(
    world: World, method: str, path: str, status: int
) -> None:
    result = world.call(method, path.replace("{id}", str(uuid.uuid4())), json={})
    assert result.status_code == status, result.text
    assert result.json["error"]["code"] == {404: "not_found", 405: "method_not_allowed"}[status]
    assert result.json["error"]["message"]


def test_generated_requests_over_the_openapi_document_never_5xx(world: World) -> None:
    identifiers = st.sampled_from(
        [str(world.conv_a), str(world.conv_b), str(world.task_b), str(world.user_b), str(uuid.uuid4()), "x", "%20"]
    )
    field_values = st.one_of(st.sampled_from(["OWNER", "TECH", "approved", "pending", "rejected"]), json_values)
    users = st.sampled_from(["owner_a", "tech_a", "owner_b", "user_nobody"])
    statuses: list[int] = []
    documented = document()["paths"]

    @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(op=st.sampled_from(OPERATIONS), ident=identifiers, data=st.data(), who=users)
    def run(op: Any, ident: str, data: st.DataObject, who: str) -> None:
        path = op.path
        for name in op.path_params:
            path = path.replace("{" + name + "}", ident)
        query = {name: data.draw(st.text(max_size=12)) for name, _schema in op.query if data.draw(st.booleans())}
        headers: dict[str, str] = {}
        if data.draw(st.booleans()):
            headers["Idempotency-Key"] = data.draw(st.text(min_size=1, max_size=8).filter(str.isprintable))
        if data.draw(st.booleans()):
            headers["X-Tenant-Id"] = data.draw(st.sampled_from([str(world.a), str(world.b), "nope"]))
        kwargs: dict[str, Any] = {"headers": headers, "params": query}
        if op.body is not None:
            fields = list(op.body.model_fields)
            body = {name: data.draw(field_values) for name in fields if data.draw(st.booleans())}
            kwargs["json"] = body if data.draw(st.booleans()) else data.draw(json_values)
        result = world.call(op.method, path, who=who, **kwargs)
        statuses.append(result.status_code)
        assert result.status_code < 500, (op.method, path, kwargs, result.text)
        # Whatever it answers, the document says it may (tests/integration/test_api_contract checks the bodies).
        assert str(result.status_code) in documented[op.path][op.method]["responses"], (op.method, path, result.text)
        if result.status_code >= 400:
            assert set(result.json["error"]) >= {"code", "message"}

    run()
    assert any(code < 300 for code in statuses)
    assert any(code >= 400 for code in statuses)


# --- settings ---------------------------------------------------------------------------------------------------


def test_the_callback_grace_period_is_set_by_an_owner_and_checked(world: World) -> None:
    assert world.call("get", "/v1/settings/calls", who="tech_a").json == {"callback_grace_seconds": 0}
    changed = world.call("patch", "/v1/settings/calls", json={"callback_grace_seconds": 30})
    assert changed.status_code == 200
    assert changed.json == {"callback_grace_seconds": 30}
    for bad in (121, -1, "30", 30.0, True, None):
        refused = world.call("patch", "/v1/settings/calls", json={"callback_grace_seconds": bad})
        assert refused.status_code == 422, bad
        assert "callback_grace_seconds" in refused.json["error"]["message"]
    assert world.call("patch", "/v1/settings/calls", json={"other": 1}).status_code == 422
    # Another tenant's setting is untouched, and each tenant reads its own.
    assert world.call("get", "/v1/settings/calls", who="owner_b").json == {"callback_grace_seconds": 0}
    assert world.call("get", "/v1/settings/calls").json == {"callback_grace_seconds": 30}
