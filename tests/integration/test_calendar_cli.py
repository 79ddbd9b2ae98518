"""`nmc calendar link|list`: a technician's calendar linked with OAuth tokens from the CLI, stored encrypted and
never printed; every bad input is one line."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from ops.cli import cli
from ops.commands.calendar import calendar
from ops.tenants import DEMO_NUMBER, seed_demo

TOKEN = "test-access-token"


def run(settings: Settings, *args: str, stdin: str | None = None) -> tuple[int, str]:
    if calendar.name not in cli.commands:
        cli.add_command(calendar)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_link_then_list_a_technicians_calendar(settings: Settings, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        seed_demo(session, settings)
        name = session.execute(text("SELECT name FROM sched_resources ORDER BY name LIMIT 1")).scalar_one()
    code, out = run(
        settings, "calendar", "link", "--tenant", DEMO_NUMBER, "--resource", name.upper(), "--provider", "google",
        "--calendar", "sarah@acme.example", stdin=f"{TOKEN}\n",
    )  # fmt: skip
    assert code == 0, out
    assert TOKEN not in out  # neither echoed at the prompt nor printed
    linked = json.loads(out[out.index("{") :])
    assert (linked["provider"], linked["external_ref"], linked["status"]) == ("google", "sarah@acme.example", "active")
    code, out = run(settings, "calendar", "list", "--tenant", DEMO_NUMBER, "--json")
    assert code == 0, out
    assert [item["calendar_id"] for item in json.loads(out)] == [linked["calendar_id"]]
    with sessions() as session:
        stored = session.execute(text("SELECT access_token FROM sched_calendar_credentials")).scalar_one()
    assert TOKEN.encode() not in bytes(stored)


def test_bad_links_are_one_line(settings: Settings, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        seed_demo(session, settings)
    base = ("calendar", "link", "--tenant", DEMO_NUMBER, "--access-token", TOKEN)
    for args, says in (
        (("--resource", "Nobody", "--provider", "google", "--calendar", "x@y.z"), "no technician Nobody"),
        (("--resource", "Sarah", "--provider", "jobber", "--calendar", "acct/user"), "jobber_job_id: cannot be empty"),
        (("--resource", "Sarah", "--provider", "google", "--calendar", "  "), "external_ref: cannot be empty"),
    ):
        code, out = run(settings, *base, *args)
        assert code != 0
        assert says in out, out
        assert len(out.strip().splitlines()) == 1
    # No token given and nothing piped in: one line saying how to give it, not an endless prompt.
    code, out = run(settings, "calendar", "link", "--tenant", DEMO_NUMBER, "--resource", "Sarah", "--provider",
                    "google", "--calendar", "x@y.z", stdin="")  # fmt: skip
    assert code == 1
    assert out.strip().splitlines() == ["Error: no access token: pass --access-token, or pipe the token on stdin"]
    code, out = run(settings, "calendar", "list", "--tenant", "+19995550000")
    assert code != 0
    assert "no tenant" in out
