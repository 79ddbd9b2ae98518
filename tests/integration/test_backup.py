"""`nmc backup` + `nmc dr drill`: a real pg_dump restored into a scratch database, verified, RPO/RTO measured."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from ops.backup import EXCLUSION_CONSTRAINTS, dr_drill, latest_backup, libpq_url, take_backup
from ops.cli import _register, cli

pytestmark = pytest.mark.skipif(shutil.which("pg_dump") is None, reason="PostgreSQL client tools are not installed")


def _append_events(sessions: sessionmaker[Session], count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with sessions() as session, session.begin():
        for event_id in ids:
            session.execute(
                text(
                    "INSERT INTO outbox_events (event_id, event_name, schema_version, occurred_at, correlation_id, "
                    "payload) VALUES (:id, 'nmc.telephony.CallMissed', 1, now(), :id, '{}')"
                ),
                {"id": event_id},
            )
    return ids


def _drill_databases(settings: Settings) -> list[str]:
    with psycopg.connect(libpq_url(settings, "postgres"), autocommit=True) as conn:
        pattern = f"{settings.database_name[:30]}_drill_%"
        return [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,))]


def test_backup_then_drill_restores_verifies_and_measures(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"backup_dir": str(tmp_path / "backups")})
    events = _append_events(sessions, 25)
    info = take_backup(settings)
    assert Path(info.path).stat().st_size > 0
    assert info.inventory["row_counts"]["outbox_events"] == 25
    assert info.inventory["latest_event"]["event_id"] == str(events[-1])
    assert any(":sched_appointments_no_overlap:x" in c for c in info.inventory["constraints"])
    assert latest_backup(settings).path == info.path

    result = dr_drill(settings)
    checks = {check.name: check for check in result.checks}
    assert result.verified, result.checks
    assert set(checks) == {
        "row_counts",
        "constraints_present",
        "constraints_valid",
        "exclusion_constraints",
        "latest_event",
    }
    assert all(name in checks["exclusion_constraints"].detail for name in EXCLUSION_CONSTRAINTS)
    assert result.events_since_backup == 0
    assert result.rpo_seconds == 0.0  # nothing written since the backup: nothing would be lost
    assert 0 < result.rto_seconds < 120
    assert result.ok
    data = json.loads(json.dumps(result.to_json()))
    assert data["ok"]
    assert data["rpo_target_seconds"] == 900
    assert data["rto_target_seconds"] == 7200
    assert _drill_databases(settings) == []  # the scratch database is dropped

    # Writes after the backup are what a restore would lose: the achieved RPO becomes their exposure window.
    _append_events(sessions, 2)
    later = dr_drill(settings)
    assert later.events_since_backup == 2
    assert later.rpo_seconds > 0


def test_drill_fails_when_the_restore_does_not_match_its_manifest(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"backup_dir": str(tmp_path)})
    _append_events(sessions, 3)
    info = take_backup(settings)
    manifest = json.loads(Path(info.manifest_path).read_text())
    manifest["inventory"]["row_counts"]["outbox_events"] = 4
    manifest["inventory"]["latest_event"]["event_id"] = str(uuid.uuid4())
    Path(info.manifest_path).write_text(json.dumps(manifest))
    result = dr_drill(settings)
    failed = {check.name for check in result.checks if not check.ok}
    assert failed == {"row_counts", "latest_event"}
    assert not result.ok


def test_cli_backup_and_drill(settings: Settings, sessions: sessionmaker[Session], tmp_path: Path) -> None:
    _append_events(sessions, 1)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "BACKUP_DIR": str(tmp_path)}
    _register()
    runner = CliRunner()
    empty = runner.invoke(cli, ["dr", "drill"], env=env)
    assert empty.exit_code == 1
    assert "no backups in" in empty.output
    made = runner.invoke(cli, ["backup", "--json"], env=env)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["tables"] > 10
    human = runner.invoke(cli, ["dr", "drill"], env=env)
    assert human.exit_code == 0, human.output
    assert "[ok] exclusion_constraints" in human.output
    assert "RTO" in human.output
    assert "met" in human.output
