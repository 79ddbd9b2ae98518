"""`nmc tenant create|seed-demo`, `nmc member add|list|remove` and `nmc campaign set-status` against a real
database; the first OWNER of a fresh tenant signs in without any SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import falcon.testing
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from ingress.app import IngressDeps, create_app
from ops.cli import cli
from ops.commands.compliance import campaign
from ops.commands.member import member
from ops.commands.tenant import tenant
from tests.support.clerk_jwks import ISSUER, PARTY, Keys, serve_jwks, token


def run(settings: Settings, *args: str) -> tuple[int, str]:
    for command in (tenant, campaign, member):
        if command.name not in cli.commands:
            cli.add_command(command)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_tenant_create_then_campaign_set_status(settings: Settings, sessions: sessionmaker[Session]) -> None:
    code, out = run(
        settings,
        "tenant",
        "create",
        "--name",
        "Bob's HVAC",
        "--number",
        "+13105552000",
        "--forward-to",
        "(310) 555-2001",
        "--timezone",
        "America/Chicago",
        "--plan",
        "pro",
    )
    assert code == 0, out
    created = json.loads(out)
    assert created["forward_to"] == "+13105552001"
    assert created["campaign"] == "pending"
    assert created["plan"] == "pro"
    code, out = run(settings, "campaign", "set-status", "--tenant", "+13105552000", "approved")
    assert code == 0, out
    assert json.loads(out) == {"tenant_id": created["id"], "previous_status": "pending", "status": "approved"}
    code, out = run(
        settings,
        "tenant",
        "create",
        "--name",
        "Dup",
        "--number",
        "+13105552000",
        "--forward-to",
        "+13105552001",
        "--timezone",
        "UTC",
    )
    assert code != 0
    assert "already belongs" in out
    assert run(settings, "campaign", "set-status", "--tenant", "+19995550000", "approved")[0] != 0


def test_seed_demo_is_idempotent(settings: Settings, sessions: sessionmaker[Session]) -> None:
    code, first = run(settings, "tenant", "seed-demo")
    assert code == 0, first
    code, second = run(settings, "tenant", "seed-demo")
    assert code == 0, second
    one, two = json.loads(first), json.loads(second)
    assert one["id"] == two["id"]
    assert one["campaign"] == "approved"
    assert one["plan"] == "pro"
    assert one["service_items"] == two["service_items"]
    assert len(one["resources"]) == 2
    with transaction(sessions) as session:
        assert session.execute(text("SELECT count(*) FROM id_tenants")).scalar_one() == 1


@pytest.fixture
def api(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> Iterator[tuple[Keys, falcon.testing.TestClient]]:
    with serve_jwks() as keys:
        app_settings = settings.model_copy(
            update={"clerk_jwks_url": keys.url, "clerk_issuer": ISSUER, "clerk_authorized_parties": (PARTY,)}
        )
        client = redis.Redis.from_url(settings.redis_url)
        app = create_app(app_settings, IngressDeps(engine=engine, sessions=sessions, redis=client))
        yield keys, falcon.testing.TestClient(app)
        client.close()


TENANT = ("--name", "Ace", "--number", "+13105552100", "--forward-to", "+13105552101", "--timezone", "UTC")


def test_the_first_owner_signs_in_without_sql(settings: Settings, api: tuple[Keys, falcon.testing.TestClient]) -> None:
    keys, client = api
    code, out = run(
        settings, "tenant", "create", *TENANT, "--owner-email", "Owner@Ace.example", "--clerk-org-id", "org_ace"
    )
    assert code == 0, out
    created = json.loads(out)
    invitation = created["owner_invitation"]
    assert (invitation["email"], invitation["role"], invitation["status"]) == ("owner@ace.example", "OWNER", "pending")

    def call(method: str, path: str, sub: str, email: str, **kwargs: object) -> falcon.testing.Result:
        bearer = token(keys, sub, email=email)
        return client.simulate_request(method, path, headers={"Authorization": f"Bearer {bearer}"}, **kwargs)

    # The owner signs in (a Clerk token with their address) and accepts: the only step, no SQL.
    assert call("GET", "/v1/me", "user_owner", "owner@ace.example").status_code == 403
    accepted = call(
        "POST", "/v1/invitations/accept", "user_owner", "owner@ace.example", json={"token": invitation["token"]}
    )
    assert accepted.status_code == 200, accepted.text
    me = call("GET", "/v1/me", "user_owner", "owner@ace.example").json
    assert (me["tenant"]["id"], me["role"]) == (created["id"], "OWNER")

    code, out = run(
        settings,
        "member",
        "add",
        "+13105552100",
        "--email",
        "tech@ace.example",
        "--role",
        "TECH",
        "--mobile",
        "(310) 555-2109",
    )
    assert code == 0, out
    assert json.loads(out)["mobile"] == "+13105552109"
    code, out = run(settings, "member", "list", created["id"], "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [(m["email"], m["role"]) for m in listed["members"]] == [("owner@ace.example", "OWNER")]
    assert [(i["email"], i["status"]) for i in listed["invitations"]] == [("tech@ace.example", "pending")]
    code, out = run(settings, "member", "list", created["id"])
    assert code == 0
    assert "member   OWNER  owner@ace.example" in out
    assert "invited  TECH   tech@ace.example  pending" in out

    code, out = run(settings, "member", "remove", created["id"], "TECH@ace.example")
    assert code == 0, out
    assert json.loads(out)["removed_user_id"] is None
    assert len(json.loads(out)["revoked_invitations"]) == 1
    code, out = run(settings, "member", "remove", created["id"], "owner@ace.example")
    assert code != 0
    assert "at least one OWNER" in out
    code, out = run(settings, "member", "remove", created["id"], "nobody@ace.example")
    assert code != 0
    assert "no member or open invitation" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("member", "add", "+13105552100", "--email", "nope", "--role", "TECH"), "is not an email address"),
        (("member", "add", "+13105552100", "--email", "a@b.example", "--role", "ADMIN"), "Invalid value"),
        (("member", "add", "+13105552100", "--email", "a@b.example", "--role", "TECH", "--mobile", "5"), "phone"),
        (("member", "add", "+19995550000", "--email", "a@b.example", "--role", "TECH"), "no tenant"),
        (("member", "list", "not-a-tenant"), "no tenant"),
        (("member", "remove", "+13105552100", "not an email"), "is not an email address"),
    ],
)
def test_member_commands_refuse_bad_input_in_one_line(
    settings: Settings, sessions: sessionmaker[Session], args: tuple[str, ...], message: str
) -> None:
    assert run(settings, "tenant", "create", *TENANT)[0] == 0
    code, out = run(settings, *args)
    assert code != 0
    assert message in out
    assert "Traceback" not in out


def test_a_bad_owner_email_creates_no_tenant(settings: Settings, sessions: sessionmaker[Session]) -> None:
    code, out = run(settings, "tenant", "create", *TENANT, "--owner-email", "not-an-email")
    assert code != 0
    assert "is not an email address" in out
    with transaction(sessions) as session:
        assert session.execute(text("SELECT count(*) FROM id_tenants")).scalar_one() == 0
    assert run(settings, "tenant", "create", *TENANT, "--clerk-org-id", "org_x")[0] == 0
    code, out = run(
        settings,
        "tenant",
        "create",
        "--name",
        "B",
        "--number",
        "+13105552200",
        "--forward-to",
        "+13105552201",
        "--timezone",
        "UTC",
        "--clerk-org-id",
        "org_x",
    )
    assert code != 0
    assert "already linked" in out


def test_tenant_update_changes_texts_and_numbers_and_refuses_bad_ones_in_one_line(settings: Settings) -> None:
    code, out = run(
        settings, "tenant", "create", "--name", "Upd", "--number", "+13105552100", "--forward-to", "+13105552101",
        "--timezone", "UTC",
    )  # fmt: skip
    assert code == 0, out
    code, out = run(
        settings, "tenant", "update", "+13105552100", "--help-text", "Upd: reply STOP to opt out.",
        "--owner-mobile", "+13105552102", "--first-message", "Hi from {business}!",
    )  # fmt: skip
    assert code == 0, out
    changed = json.loads(out)
    assert changed["help_text"] == "Upd: reply STOP to opt out."
    assert changed["owner_mobile"] == "+13105552102"
    assert changed["first_message"] == "Hi from {business}!"
    assert changed["callback_grace_seconds"] == 0  # the default: the first SMS goes at once
    graced = json.loads(run(settings, "tenant", "update", "+13105552100", "--callback-grace", "45")[1])
    assert graced["callback_grace_seconds"] == 45
    assert (
        json.loads(run(settings, "tenant", "update", "+13105552100", "--owner-mobile", "none")[1])["owner_mobile"]
        is None
    )
    assert changed["spanish_replies"] is True
    assert (
        json.loads(run(settings, "tenant", "update", "+13105552100", "--spanish", "off")[1])["spanish_replies"] is False
    )
    assert (
        json.loads(run(settings, "tenant", "update", "+13105552100", "--help-text", "Hi")[1])["spanish_replies"]
        is False
    )
    assert (
        json.loads(run(settings, "tenant", "update", "+13105552100", "--spanish", "on")[1])["spanish_replies"] is True
    )
    for bad, says in (
        (("--spanish", "maybe"), "--spanish is on or off"),
        (("--forward-to", "310 555"), "E.164"),
        (("--first-message", "Hi {name}"), "{business}"),
        (("--help-text", "   "), "cannot be empty"),
        (("--callback-grace", "121"), "at most 120 seconds"),
        (("--callback-grace", "soon"), "from 0 to 120"),
    ):
        code, out = run(settings, "tenant", "update", "+13105552100", *bad)
        assert code != 0
        assert says in out
        assert len(out.strip().splitlines()) == 1


def test_tenant_list_and_show_describe_each_tenant_and_an_unknown_one_is_one_line(settings: Settings) -> None:
    first = ["--forward-to", "+13105553001", "--timezone", "America/Denver", "--owner-email", "o@example.com"]
    code, out = run(settings, "tenant", "create", "--name", "Ann's Plumbing", "--number", "+13105553000", *first)
    assert code == 0, out
    ann = json.loads(out)
    code, out = run(settings, "tenant", "create", "--name", "Bo's Salon", "--number", "+13105553100", *first[:4])
    assert code == 0, out
    bo = json.loads(out)
    assert run(settings, "campaign", "set-status", "--tenant", bo["id"], "approved")[0] == 0

    code, out = run(settings, "tenant", "list")
    assert code == 0, out
    listed = {tenant["id"]: tenant for tenant in json.loads(out)}
    assert listed[ann["id"]] | {"created_at": None} == {
        "id": ann["id"],
        "name": "Ann's Plumbing",
        "timezone": "America/Denver",
        "forward_to": "+13105553001",
        "phone_number": "+13105553000",
        "plan": "starter",
        "subscription_status": listed[ann["id"]]["subscription_status"],
        "campaign_status": "pending",
        "created_at": None,
    }
    assert listed[bo["id"]]["campaign_status"] == "approved"
    assert [tenant["id"] for tenant in json.loads(run(settings, "tenant", "list", "--limit", "1")[1])] == [bo["id"]]

    for ref in (ann["id"], "+13105553000", "(310) 555-3000"):
        code, out = run(settings, "tenant", "show", ref)
        assert code == 0, (ref, out)
        shown = json.loads(out)
        assert shown["id"] == ann["id"]
        assert shown["messaging"]["forward_to"] == "+13105553001"
        assert shown["campaign"]["status"] == "pending"
        assert "sms" in shown["gates"]
    assert shown["members"] == []  # the owner's invitation is not a member until accepted

    for ref in ("+13105559999", str(uuid.uuid4()), "nonsense"):
        code, out = run(settings, "tenant", "show", ref)
        assert code == 1
        assert out.strip().splitlines() == [f"Error: no tenant {ref}"]
    code, out = run(settings, "tenant", "list", "--limit", "0")
    assert code == 2
    assert "--limit" in out
