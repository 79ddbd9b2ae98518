"""Backups and the DR drill.

``take_backup`` writes a logical backup (``pg_dump`` custom format) of the application database into
``BACKUP_DIR``, taken from an exported snapshot so the manifest beside it (row counts, constraints, latest outbox
event) describes exactly what the dump holds. ``take_base_backup`` runs ``pg_basebackup`` (tar, WAL streamed) for
the physical/PITR path described in ``docs/runbook-dr.md``.

``dr_drill`` restores the newest backup into a scratch database, verifies it against its manifest (row counts,
every constraint present and validated, the EXCLUDE constraints that forbid double-booking, the latest outbox event)
and measures the achieved RPO and RTO against the targets (RPO <= 15 min, RTO <= 2 h).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from db.settings import Settings

RPO_TARGET_SECONDS = 15 * 60
RTO_TARGET_SECONDS = 2 * 60 * 60
EXCLUSION_CONSTRAINTS = ("sched_appointments_no_overlap", "sched_holds_no_overlap")
MANIFEST_SUFFIX = ".manifest.json"


class BackupError(Exception):
    """A backup or drill step failed; the message is one line for the operator."""


def libpq_url(settings: Settings, database: str | None = None) -> str:
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    if database is None:
        return url
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{database}" + (f"?{query}" if query else "")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return path


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {reason[-1] if reason else f'exit {result.returncode}'}")


def _inventory(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Row counts of every table, every constraint, and the latest outbox event, as this connection sees them."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    ]
    counts = {
        table: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])  # type: ignore[index]
        for table in tables
    }
    constraints = sorted(
        f"{row[0]}:{row[1]}:{row[2]}"
        for row in conn.execute(
            """SELECT rel.relname, con.conname, con.contype FROM pg_constraint con
                 JOIN pg_class rel ON rel.oid = con.conrelid
                 JOIN pg_namespace ns ON ns.oid = rel.relnamespace
                WHERE ns.nspname = 'public'"""
        ).fetchall()
    )
    latest = (
        conn.execute("SELECT event_id, seq, created_at FROM outbox_events ORDER BY seq DESC LIMIT 1").fetchone()
        if "outbox_events" in counts
        else None
    )
    return {
        "row_counts": counts,
        "constraints": constraints,
        "latest_event": None
        if latest is None
        else {"event_id": str(latest[0]), "seq": int(latest[1]), "created_at": latest[2].isoformat()},
    }


@dataclass
class BackupInfo:
    path: str
    manifest_path: str
    kind: str
    database: str
    started_at: str
    finished_at: str
    duration_seconds: float
    size_bytes: int
    server_version: str
    inventory: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latest_event"] = self.inventory.get("latest_event")
        data["tables"] = len(self.inventory.get("row_counts", {}))
        del data["inventory"]
        return data


def backup_dir(settings: Settings) -> Path:
    path = Path(settings.backup_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(
            f"cannot write backups to {path}: {error.strerror} (set BACKUP_DIR or DATA_DIR to a writable directory)"
        ) from None
    return path


def take_backup(settings: Settings) -> BackupInfo:
    """A consistent logical backup plus its manifest; both written atomically (temp name, then rename)."""
    pg_dump = _tool("pg_dump")
    directory = backup_dir(settings)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{settings.database_name}-{stamp}.dump"
    target = directory / name
    partial = directory / f".{name}.partial"
    clock = time.monotonic()
    try:
        with psycopg.connect(libpq_url(settings), autocommit=False, connect_timeout=5) as conn:
            # The dump and the manifest read the same snapshot, so the manifest is exactly what the dump holds.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
            inventory = _inventory(conn)
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={libpq_url(settings)}",
                ],
                "pg_dump",
            )
            conn.rollback()
    except psycopg.OperationalError:
        partial.unlink(missing_ok=True)
        raise  # the CLI names the server in one line
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    finished = datetime.now(UTC)
    info = BackupInfo(
        path=str(target),
        manifest_path=str(directory / f"{name}{MANIFEST_SUFFIX}"),
        kind="pg_dump",
        database=settings.database_name,
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        duration_seconds=round(time.monotonic() - clock, 3),
        size_bytes=target.stat().st_size,
        server_version=version,
        inventory=inventory,
    )
    manifest_tmp = Path(f"{info.manifest_path}.partial")
    manifest_tmp.write_text(json.dumps(asdict(info), indent=2))
    os.replace(manifest_tmp, info.manifest_path)
    return info


def take_base_backup(settings: Settings) -> Path:
    """A physical base backup of the whole cluster (tar + streamed WAL), the starting point for PITR."""
    target = backup_dir(settings) / f"base-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    _run(
        [
            _tool("pg_basebackup"),
            f"--dbname={libpq_url(settings)}",
            f"--pgdata={target}",
            "--format=tar",
            "--gzip",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--label=nmc",
        ],
        "pg_basebackup",
    )
    return target


def latest_backup(settings: Settings) -> BackupInfo:
    manifests = sorted(Path(settings.backup_dir).glob(f"*.dump{MANIFEST_SUFFIX}"))
    if not manifests:
        raise BackupError(f"no backups in {settings.backup_dir} (run `nmc backup` first)")
    return load_manifest(manifests[-1])


def load_manifest(path: Path) -> BackupInfo:
    try:
        return BackupInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise BackupError(f"unreadable backup manifest {path}: {error}") from None


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DrillResult:
    backup: str
    scratch_database: str
    restore_seconds: float
    verify_seconds: float
    rto_seconds: float
    rpo_seconds: float
    latest_event_age_seconds: float | None
    events_since_backup: int
    checks: list[Check]
    rpo_target_seconds: int = RPO_TARGET_SECONDS
    rto_target_seconds: int = RTO_TARGET_SECONDS

    @property
    def verified(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def rpo_met(self) -> bool:
        return self.rpo_seconds <= self.rpo_target_seconds

    @property
    def rto_met(self) -> bool:
        return self.rto_seconds <= self.rto_target_seconds

    @property
    def ok(self) -> bool:
        return self.verified and self.rpo_met and self.rto_met

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(verified=self.verified, rpo_met=self.rpo_met, rto_met=self.rto_met, ok=self.ok)
        return data


def _verify(conn: psycopg.Connection[Any], manifest: BackupInfo) -> list[Check]:
    restored = _inventory(conn)
    expected_counts: dict[str, int] = manifest.inventory["row_counts"]
    wrong = {
        table: (count, restored["row_counts"].get(table))
        for table, count in expected_counts.items()
        if restored["row_counts"].get(table) != count
    }
    checks = [
        Check(
            "row_counts",
            not wrong,
            f"{len(expected_counts)} tables, {sum(expected_counts.values())} rows match"
            if not wrong
            else f"mismatched (expected, restored): {wrong}",
        )
    ]
    missing = sorted(set(manifest.inventory["constraints"]) - set(restored["constraints"]))
    checks.append(
        Check(
            "constraints_present",
            not missing,
            f"{len(manifest.inventory['constraints'])} constraints" if not missing else f"missing: {missing}",
        )
    )
    invalid = [
        row[0]
        for row in conn.execute(
            """SELECT con.conname FROM pg_constraint con JOIN pg_namespace ns ON ns.oid = con.connamespace
                WHERE ns.nspname = 'public' AND NOT con.convalidated"""
        ).fetchall()
    ]
    checks.append(Check("constraints_valid", not invalid, "all validated" if not invalid else f"not valid: {invalid}"))
    exclusions = {
        row[0]
        for row in conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conname = ANY(%s) AND convalidated",
            (list(EXCLUSION_CONSTRAINTS),),
        ).fetchall()
    }
    absent = sorted(set(EXCLUSION_CONSTRAINTS) - exclusions)
    checks.append(
        Check(
            "exclusion_constraints",
            not absent,
            "no double-booking: " + ", ".join(EXCLUSION_CONSTRAINTS) if not absent else f"missing: {absent}",
        )
    )
    latest = manifest.inventory.get("latest_event")
    if latest is None:
        checks.append(Check("latest_event", True, "backup holds no outbox events"))
    else:
        found = conn.execute("SELECT seq FROM outbox_events WHERE event_id = %s", (latest["event_id"],)).fetchone()
        checks.append(
            Check(
                "latest_event",
                found is not None and int(found[0]) == latest["seq"],
                f"event {latest['event_id']} (seq {latest['seq']}) " + ("present" if found is not None else "MISSING"),
            )
        )
    return checks


def dr_drill(settings: Settings, manifest: BackupInfo | None = None, *, keep: bool = False) -> DrillResult:
    """Restore a backup into a scratch database, verify it and measure RPO/RTO; drops the scratch database after."""
    manifest = manifest or latest_backup(settings)
    if not Path(manifest.path).exists():
        raise BackupError(f"backup file {manifest.path} is missing")
    pg_restore = _tool("pg_restore")
    scratch = f"{manifest.database[:30]}_drill_{os.getpid()}_{int(time.time())}"
    admin = libpq_url(settings, "postgres")
    started = time.monotonic()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
    try:
        # Fresh databases inherit template0: extensions come back from the dump itself (btree_gist for EXCLUDE).
        _run(
            [
                pg_restore,
                "--no-owner",
                "--exit-on-error",
                "--jobs=2",
                f"--dbname={libpq_url(settings, scratch)}",
                manifest.path,
            ],
            "pg_restore",
        )
        restored = time.monotonic()
        with psycopg.connect(libpq_url(settings, scratch), autocommit=True) as conn:
            checks = _verify(conn, manifest)
        verified = time.monotonic()
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    now = datetime.now(UTC)
    latest = manifest.inventory.get("latest_event")
    events_since = _events_since(settings, latest["seq"] if latest else 0)
    latest_age = (now - datetime.fromisoformat(latest["created_at"])).total_seconds() if latest else None
    # Achieved RPO: the window of writes this backup would lose. Nothing written since it -> nothing lost; otherwise
    # everything after its latest event (or after the backup itself, for an empty outbox).
    if events_since == 0:
        rpo = 0.0
    elif latest_age is not None:
        rpo = latest_age
    else:
        rpo = (now - datetime.fromisoformat(manifest.started_at)).total_seconds()
    return DrillResult(
        backup=manifest.path,
        scratch_database=scratch,
        restore_seconds=round(restored - started, 3),
        verify_seconds=round(verified - restored, 3),
        rto_seconds=round(verified - started, 3),
        rpo_seconds=round(rpo, 3),
        latest_event_age_seconds=None if latest_age is None else round(latest_age, 3),
        events_since_backup=events_since,
        checks=checks,
    )


def _events_since(settings: Settings, seq: int) -> int:
    """Outbox events the live database has beyond the backup's latest (-1 when the live database is unreachable)."""
    try:
        with psycopg.connect(libpq_url(settings), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM outbox_events WHERE seq > %s", (seq,)).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return -1
