"""`nmc tenant create|seed-demo` and `nmc campaign set-status` against a real database."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from ops.cli import cli
from ops.commands import campaign, tenant


def run(settings: Settings, *args: str) -> tuple[int, str]:
    if "tenant" not in cli.commands:
        cli.add_command(tenant)
        cli.add_command(campaign)
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
