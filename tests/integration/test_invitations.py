"""Memberships by invitation through the /v1 API (falcon.testing, real RS256 tokens from a JWKS served over HTTP):
the cross-tenant attachment attack, invite/accept/revoke/expire, a replayed invitation, several tenants, the last
OWNER."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events.sink import RootSink
from domain.identity import service as identity
from ingress.app import IngressDeps, create_app
from tests.support.clerk_jwks import ISSUER, PARTY, Keys, serve_jwks, token
from tests.support.members import join

TTL_HOURS = 5
EMAILS = {
    "alice": "alice@a.example",  # OWNER of A
    "bob": "bob@b.example",  # OWNER of B: the attacker in the first test
    "sam": "sam@example.com",
    "kim": "kim@example.com",
    "mallory": "mallory@evil.example",
}


@dataclass
class World:
    client: falcon.testing.TestClient
    keys: Keys
    a: uuid.UUID
    b: uuid.UUID
    alice: uuid.UUID
    sessions: sessionmaker[Session]

    def call(
        self, method: str, path: str, who: str = "alice", claims: dict[str, Any] | None = None, **kwargs: Any
    ) -> falcon.testing.Result:
        signed = {"email": EMAILS[who], "name": who.title()} if who in EMAILS else {}
        bearer = token(self.keys, who, **{**signed, **(claims or {})})
        headers = {"Authorization": f"Bearer {bearer}", **kwargs.pop("headers", {})}
        return self.client.simulate_request(method.upper(), path, headers=headers, **kwargs)

    def invite(self, email: str, role: str = "TECH", who: str = "alice", **kwargs: Any) -> dict[str, Any]:
        result = self.call("post", "/v1/invitations", who=who, json={"email": email, "role": role}, **kwargs)
        assert result.status_code == 201, result.text
        body: dict[str, Any] = result.json
        return body

    def accept(self, invite_token: str, who: str, **kwargs: Any) -> falcon.testing.Result:
        return self.call("post", "/v1/invitations/accept", who=who, json={"token": invite_token}, **kwargs)

    def sql(self, statement: str, **params: Any) -> Any:
        with transaction(self.sessions) as session:
            result = session.execute(text(statement), params)
            return result.all() if result.returns_rows else None

    def events(self, tenant_id: uuid.UUID) -> list[str]:
        rows = self.sql("SELECT event_name FROM outbox_events WHERE tenant_id = :t ORDER BY seq", t=tenant_id)
        return [row[0] for row in rows if ".identity." in row[0]]


@pytest.fixture(scope="module")
def jwks() -> Iterator[Keys]:
    with serve_jwks() as keys:
        yield keys


@pytest.fixture
def world(settings: Settings, engine: Engine, sessions: sessionmaker[Session], jwks: Keys) -> Iterator[World]:
    with transaction(sessions) as session:
        a = identity.create_tenant(
            session,
            name="A",
            number="+13105550001",
            forward_to="+13105550002",
            timezone="UTC",
            events=RootSink(session),
        )
        b = identity.create_tenant(
            session,
            name="B",
            number="+13105550003",
            forward_to="+13105550004",
            timezone="UTC",
            clerk_org_id="org_b",
            events=RootSink(session),
        )
        alice = join(session, tenant_id=a.id, clerk_user_id="alice", role="OWNER", email=EMAILS["alice"])
        join(session, tenant_id=b.id, clerk_user_id="bob", role="OWNER", email=EMAILS["bob"])
    app_settings = settings.model_copy(
        update={
            "clerk_jwks_url": jwks.url,
            "clerk_issuer": ISSUER,
            "clerk_authorized_parties": (PARTY,),
            "invitation_ttl_hours": TTL_HOURS,
        }
    )
    client = redis.Redis.from_url(settings.redis_url)
    app = create_app(app_settings, IngressDeps(engine=engine, sessions=sessions, redis=client))
    yield World(falcon.testing.TestClient(app), jwks, a.id, b.id, alice, sessions)
    client.close()


# --- the attack ------------------------------------------------------------------------------------------------


def test_another_tenants_owner_cannot_attach_read_or_rewrite_a_user(world: World) -> None:
    # Before: B's OWNER named A's OWNER by Clerk id, saw and overwrote her email, and broke her implicit tenant.
    attached = world.call(
        "post", "/v1/users", who="bob", json={"clerk_user_id": "alice", "email": "evil@b.example", "role": "TECH"}
    )
    assert attached.status_code == 405
    # Inviting her address gives B nothing until she herself accepts, and the invitation is B's own record.
    offered = world.invite(EMAILS["alice"], who="bob")
    assert set(offered) == {"id", "tenant_id", "email", "role", "mobile", "created_at", "expires_at", "status", "token"}
    # Bob cannot accept it for her (his token says bob@b.example), nor reach her through B's member routes.
    stolen = world.accept(offered["token"], who="bob")
    assert stolen.status_code == 403
    assert world.accept(offered["token"], who="mallory").status_code == 403
    assert world.call("patch", f"/v1/users/{world.alice}", who="bob", json={"role": "TECH"}).status_code == 404
    assert world.call("delete", f"/v1/users/{world.alice}", who="bob").status_code == 404
    listed = world.call("get", "/v1/users", who="bob").text
    assert "alice" not in listed
    # Her profile is still what her own token said, and her requests still go to A without any header.
    assert world.sql("SELECT email, name FROM id_users WHERE clerk_user_id = 'alice'") == [(EMAILS["alice"], None)]
    me = world.call("get", "/v1/me")
    assert me.status_code == 200
    assert (me.json["tenant"]["id"], me.json["role"]) == (str(world.a), "OWNER")
    assert world.call("get", "/v1/me", headers={"X-Tenant-Id": str(world.b)}).status_code == 403


def test_a_users_profile_comes_only_from_their_own_token(world: World) -> None:
    me = world.call("get", "/v1/me", claims={"email": "Alice.New@A.example", "name": "Alice A."})
    assert (me.json["email"], me.json["name"]) == ("Alice.New@A.example", "Alice A.")
    assert world.sql("SELECT email, name FROM id_users WHERE clerk_user_id = 'alice'") == [
        ("Alice.New@A.example", "Alice A.")
    ]
    # A token that says its email is unverified changes nothing; neither does one without an email claim.
    world.call("get", "/v1/me", claims={"email": "x@evil.example", "email_verified": False})
    world.call("get", "/v1/me", claims={"email": None, "name": "Nobody"})
    assert world.sql("SELECT email FROM id_users WHERE clerk_user_id = 'alice'") == [("Alice.New@A.example",)]
    # The OWNER's member list shows the address the tenant invited, not the user's current profile.
    members = world.call("get", "/v1/users").json["items"]
    assert [(m["email"], m["role"]) for m in members] == [(EMAILS["alice"], "OWNER")]


# --- invite, accept, revoke, expire ------------------------------------------------------------------------------


def test_invite_then_accept_makes_a_member(world: World) -> None:
    assert world.call("get", "/v1/me", who="sam").status_code == 403
    before = datetime.now(UTC)
    offered = world.invite(" Sam@Example.COM ", role="TECH")
    assert offered["email"] == EMAILS["sam"]
    assert offered["status"] == "pending"
    expires = datetime.fromisoformat(offered["expires_at"])
    assert before + timedelta(hours=TTL_HOURS) <= expires <= datetime.now(UTC) + timedelta(hours=TTL_HOURS)
    listed = world.call("get", "/v1/invitations").json["items"]
    assert [item["id"] for item in listed] == [offered["id"]]
    assert "token" not in listed[0]
    # Only the hash is stored.
    assert world.sql("SELECT count(*) FROM id_invitations WHERE token_hash = :t", t=offered["token"]) == [(0,)]

    accepted = world.accept(offered["token"], who="sam", claims={"email": "SAM@example.com"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json["tenant_id"] == str(world.a)
    assert (accepted.json["role"], accepted.json["default"]) == ("TECH", True)
    me = world.call("get", "/v1/me", who="sam").json
    assert (me["tenant"]["id"], me["role"], me["email"]) == (str(world.a), "TECH", EMAILS["sam"])
    assert world.call("get", "/v1/invitations", who="sam").status_code == 403  # TECH
    assert world.call("get", "/v1/invitations").json["items"] == []
    members = {m["email"]: m["role"] for m in world.call("get", "/v1/users").json["items"]}
    assert members == {EMAILS["alice"]: "OWNER", EMAILS["sam"]: "TECH"}
    assert world.events(world.a)[-2:] == ["nmc.identity.InvitationCreated", "nmc.identity.InvitationAccepted"]
    # A member is not invited again.
    again = world.call("post", "/v1/invitations", json={"email": EMAILS["sam"], "role": "OWNER"})
    assert again.status_code == 409


def test_a_revoked_invitation_no_longer_works(world: World) -> None:
    offered = world.invite(EMAILS["kim"])
    assert world.call("delete", f"/v1/invitations/{offered['id']}", who="bob").status_code == 404  # not B's
    assert world.call("delete", f"/v1/invitations/{offered['id']}").status_code == 204
    refused = world.accept(offered["token"], who="kim")
    assert refused.status_code == 410
    assert refused.json["error"]["message"] == "this invitation was revoked"
    assert world.call("delete", f"/v1/invitations/{offered['id']}").status_code == 409
    assert world.call("delete", f"/v1/invitations/{uuid.uuid4()}").status_code == 404
    assert world.call("delete", "/v1/invitations/not-a-uuid").status_code == 404
    assert world.call("get", "/v1/me", who="kim").status_code == 403
    assert world.events(world.a)[-1] == "nmc.identity.InvitationRevoked"


def test_an_expired_invitation_is_gone_and_a_resend_replaces_it(world: World) -> None:
    old = world.invite(EMAILS["kim"])
    world.sql("UPDATE id_invitations SET expires_at = now() - interval '1 second' WHERE id = :id", id=old["id"])
    assert [item["status"] for item in world.call("get", "/v1/invitations").json["items"]] == ["expired"]
    expired = world.accept(old["token"], who="kim")
    assert expired.status_code == 410
    assert "expired" in expired.json["error"]["message"]
    # Inviting the address again revokes the old invitation and issues a new token.
    new = world.invite(EMAILS["kim"], role="OWNER")
    assert world.accept(old["token"], who="kim").status_code == 410
    assert world.accept(new["token"], who="kim").json["role"] == "OWNER"


def test_one_open_invitation_per_address_is_the_databases_rule(world: World) -> None:
    world.invite(EMAILS["kim"])
    with pytest.raises(IntegrityError, match="uq_id_invitations_open"):
        world.sql(
            "INSERT INTO id_invitations (id, tenant_id, email, role, token_hash, expires_at)"
            " VALUES (gen_random_uuid(), :t, :e, 'TECH', 'x', now() + interval '1 hour')",
            t=world.a,
            e=EMAILS["kim"],
        )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "not-an-email", "role": "TECH"}, 422),
        ({"email": "a@b", "role": "TECH"}, 422),
        ({"email": "kim@example.com", "role": "ADMIN"}, 422),
        ({"email": "kim@example.com", "role": "TECH", "mobile": "555"}, 422),
        ({"email": "kim@example.com"}, 422),
        ({"email": "kim@example.com", "role": "TECH", "clerk_user_id": "alice"}, 422),
    ],
)
def test_malformed_invitations_are_422(world: World, body: dict[str, Any], status: int) -> None:
    assert world.call("post", "/v1/invitations", json=body).status_code == status


def test_accepting_needs_a_signed_in_user_and_a_real_token(world: World) -> None:
    offered = world.invite(EMAILS["sam"])
    path = "/v1/invitations/accept"
    assert world.client.simulate_post(path, json={"token": offered["token"]}).status_code == 401
    assert world.accept("x" * 40, who="sam").status_code == 404
    assert world.call("post", path, who="sam", json={"token": "short"}).status_code == 422
    garbled = world.call("post", path, who="sam", body="{not json")
    assert 400 <= garbled.status_code < 500  # which 4xx for unparseable JSON is the shared body parser's call
    assert garbled.json["error"]["code"]
    # No verified email in the token: nothing to match the invitation against.
    assert world.accept(offered["token"], who="sam", claims={"email": None}).status_code == 403
    assert world.accept(offered["token"], who="sam", claims={"email_verified": False}).status_code == 403
    assert world.accept(offered["token"], who="sam").status_code == 200


# --- replay ------------------------------------------------------------------------------------------------------


def test_an_invitation_replayed_by_another_user_is_refused(world: World) -> None:
    offered = world.invite(EMAILS["sam"])
    # Someone else holding the token, before and after the invitee accepts.
    before = world.accept(offered["token"], who="mallory")
    assert before.status_code == 403
    assert before.json["error"]["message"] == "this invitation was sent to another email address"
    assert world.accept(offered["token"], who="sam").status_code == 200
    after = world.accept(offered["token"], who="mallory")
    assert after.status_code == 409
    # Even with the invitee's address in a token of another Clerk user, the token is spent.
    assert world.accept(offered["token"], who="mallory", claims={"email": EMAILS["sam"]}).status_code == 409
    assert world.accept(offered["token"], who="sam").status_code == 409
    assert world.call("get", "/v1/me", who="mallory").status_code == 403
    assert world.sql("SELECT count(*) FROM id_memberships WHERE tenant_id = :t", t=world.a) == [(2,)]


# --- several tenants -----------------------------------------------------------------------------------------------


def test_joining_a_second_tenant_never_changes_where_the_first_ones_requests_go(world: World) -> None:
    offered = world.invite(EMAILS["alice"], who="bob", role="TECH")
    joined = world.accept(offered["token"], who="alice")
    assert joined.status_code == 200
    assert (joined.json["tenant_id"], joined.json["default"]) == (str(world.b), False)
    # No header, no organization: still A, as before the second membership.
    me = world.call("get", "/v1/me").json
    assert (me["tenant"]["id"], me["role"]) == (str(world.a), "OWNER")
    assert {(m["tenant_id"], m["role"], m["default"]) for m in me["memberships"]} == {
        (str(world.a), "OWNER", True),
        (str(world.b), "TECH", False),
    }
    assert world.call("get", "/v1/invitations").status_code == 200  # still A's OWNER
    # Chosen explicitly: the header, or the Clerk organization linked to B (session token v1 and v2 shapes).
    for choice in ({"headers": {"X-Tenant-Id": str(world.b)}}, {"claims": {"org_id": "org_b"}}):
        chosen = world.call("get", "/v1/me", **choice).json
        assert (chosen["tenant"]["id"], chosen["role"]) == (str(world.b), "TECH")
    assert world.call("get", "/v1/me", claims={"o": {"id": "org_b", "rol": "member"}}).json["role"] == "TECH"
    assert world.call("get", "/v1/invitations", claims={"org_id": "org_b"}).status_code == 403  # TECH in B
    conflict = world.call("get", "/v1/me", claims={"org_id": "org_b"}, headers={"X-Tenant-Id": str(world.a)})
    assert conflict.status_code == 400
    assert conflict.json["error"]["code"] == "tenant_conflict"
    # An organization linked to no tenant chooses nothing; one linked to a tenant she is not in is refused.
    assert world.call("get", "/v1/me", claims={"org_id": "org_unlinked"}).json["tenant"]["id"] == str(world.a)
    assert world.call("get", "/v1/me", claims={"org_id": "org_b"}, who="sam").status_code == 403


def test_several_memberships_without_a_default_need_an_explicit_choice(world: World) -> None:
    offered = world.invite(EMAILS["alice"], who="bob")
    assert world.accept(offered["token"], who="alice").status_code == 200
    world.sql("UPDATE id_memberships SET is_default = false WHERE user_id = :u", u=world.alice)
    ambiguous = world.call("get", "/v1/me")
    assert ambiguous.status_code == 400
    assert ambiguous.json["error"]["code"] == "tenant_required"
    assert "X-Tenant-Id" in ambiguous.json["error"]["message"]
    assert world.call("get", "/v1/me", headers={"X-Tenant-Id": str(world.a)}).json["role"] == "OWNER"
    assert world.call("get", "/v1/me", headers={"X-Tenant-Id": "nope"}).status_code == 400
    with pytest.raises(IntegrityError, match="uq_id_memberships_default"):
        world.sql("UPDATE id_memberships SET is_default = true WHERE user_id = :u", u=world.alice)


# --- the last OWNER ------------------------------------------------------------------------------------------------


def test_the_last_owner_can_be_neither_removed_nor_demoted(world: World) -> None:
    assert world.call("delete", f"/v1/users/{world.alice}").status_code == 409
    assert world.call("patch", f"/v1/users/{world.alice}", json={"role": "TECH"}).status_code == 409
    sam = world.accept(world.invite(EMAILS["sam"], role="OWNER")["token"], who="sam").json["user_id"]
    assert world.call("delete", f"/v1/users/{world.alice}", who="sam").status_code == 204
    assert world.call("get", "/v1/me").status_code == 403
    assert world.call("delete", f"/v1/users/{sam}", who="sam").status_code == 409
    assert world.events(world.a)[-1] == "nmc.identity.MembershipRemoved"


def test_two_owners_removing_each_other_at_once_leave_one(world: World) -> None:
    with transaction(world.sessions) as session:
        sam = join(session, tenant_id=world.a, clerk_user_id="sam", role="OWNER")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def remove(user_id: uuid.UUID) -> None:
        start.wait()
        try:
            with transaction(world.sessions) as session:
                identity.remove_member(session, tenant_id=world.a, user_id=user_id, events=RootSink(session))
            outcomes.append("removed")
        except identity.Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=remove, args=(user,)) for user in (world.alice, sam)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["refused", "removed"]
    assert world.sql("SELECT count(*) FROM id_memberships WHERE tenant_id = :t AND role = 'OWNER'", t=world.a) == [(1,)]


def test_one_user_accepting_two_tenants_at_once_gets_exactly_one_default(world: World) -> None:
    tokens = [world.invite(EMAILS["kim"], who=owner)["token"] for owner in ("alice", "bob")]
    results: list[int] = []
    start = threading.Barrier(2)

    def accept(invite_token: str) -> None:
        start.wait()
        results.append(world.accept(invite_token, who="kim").status_code)

    threads = [threading.Thread(target=accept, args=(invite_token,)) for invite_token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [200, 200]
    defaults = world.sql(
        "SELECT m.is_default FROM id_memberships m JOIN id_users u ON u.id = m.user_id WHERE u.clerk_user_id = 'kim'"
    )
    assert sorted(row[0] for row in defaults) == [False, True]
    assert world.call("get", "/v1/me", who="kim").status_code == 200
