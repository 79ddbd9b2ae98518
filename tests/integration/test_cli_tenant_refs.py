"""`--tenant` names a tenant by UUID or E.164 in `report` and `dlq list`; an unknown one is one line, exit 1."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events.sink import RootSink
from domain.identity import service as identity
from ops.cli import _register, cli


def _invoke(settings: Settings, *args: str) -> tuple[int, str]:
    _register()
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_report_and_dlq_list_take_a_uuid_or_a_number_and_refuse_an_unknown_tenant(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        created = identity.create_tenant(
            session,
            name="Ace",
            number="+13105557000",
            forward_to="+13105557001",
            timezone="UTC",
            plan="starter",
            events=RootSink(session),
        )
    for ref in (str(created.id), "+13105557000"):
        code, out = _invoke(settings, "report", "--tenant", ref, "--days", "1", "--json")
        assert code == 0, out
        assert json.loads(out)["tenant_id"] == str(created.id)
        code, out = _invoke(settings, "dlq", "list", "--tenant", ref)
        assert (code, out) == (0, "no dead letters\n")
    for unknown in (str(uuid.uuid4()), "+13105559999"):
        for command in (["report", "--tenant", unknown], ["dlq", "list", "--tenant", unknown]):
            code, out = _invoke(settings, *command)
            assert code != 0
            assert out == f"Error: no tenant {unknown}\n"


def test_tenant_lifecycle_shows_and_changes_the_settings_and_refuses_bad_ones_in_one_line(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        identity.create_tenant(
            session,
            name="Ace",
            number="+13105557100",
            forward_to="+13105557101",
            timezone="UTC",
            plan="starter",
            events=RootSink(session),
        )
    code, out = _invoke(settings, "tenant", "lifecycle", "+13105557100")
    assert code == 0, out
    assert json.loads(out)["reminder_offsets_minutes"] == [1440, 120]
    code, out = _invoke(settings, "tenant", "lifecycle", "+13105557100", "--reminder-offsets", "60,2880",
                        "--follow-up-delay", "90")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["reminder_offsets_minutes"] == [2880, 60]
    assert json.loads(out)["follow_up_delay_minutes"] == 90
    for bad in (["--follow-up-delay", "3"], ["--reminder-offsets", "2h"], ["--reminder-offsets", "0"]):
        code, out = _invoke(settings, "tenant", "lifecycle", "+13105557100", *bad)
        assert code != 0
        assert out.startswith("Error: ")
        assert out.count("\n") == 1
