"""`nmc backup` and `nmc dr drill`: backups into BACKUP_DIR and a verified restore with measured RPO/RTO."""

from __future__ import annotations

from pathlib import Path

import click

from ops.backup import BackupError, dr_drill, latest_backup, load_manifest, take_backup, take_base_backup
from ops.context import echo_json, get_settings


@click.command()
@click.option("--physical", is_flag=True, help="pg_basebackup of the whole cluster (PITR base) instead of pg_dump.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def backup(ctx: click.Context, physical: bool, as_json: bool) -> None:
    """Back up the database into BACKUP_DIR (pg_dump custom format with a manifest, or a base backup)."""
    settings = get_settings(ctx)
    try:
        if physical:
            path = take_base_backup(settings)
            if as_json:
                echo_json({"kind": "pg_basebackup", "path": str(path)})
            else:
                click.echo(f"base backup written to {path}")
            return
        info = take_backup(settings)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        echo_json(info.to_json())
        return
    latest = info.inventory.get("latest_event")
    click.echo(
        f"backup {info.path} ({info.size_bytes / 1024:,.0f} KiB, {info.duration_seconds:.2f}s); "
        f"latest event seq {latest['seq'] if latest else '-'}"
    )


@click.group()
def dr() -> None:
    """Disaster recovery."""


@dr.command("drill")
@click.option("--backup", "backup_path", type=click.Path(exists=True, dir_okay=False), help="Manifest to restore.")
@click.option("--keep", is_flag=True, help="Keep the scratch database for inspection.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def drill(ctx: click.Context, backup_path: str | None, keep: bool, as_json: bool) -> None:
    """Restore the latest backup into a scratch database, verify it, and print achieved RPO/RTO vs targets."""
    settings = get_settings(ctx)
    try:
        manifest = load_manifest(Path(backup_path)) if backup_path else latest_backup(settings)
        result = dr_drill(settings, manifest, keep=keep)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"restored {result.backup} into {result.scratch_database}" + (" (kept)" if keep else ""))
        for check in result.checks:
            click.echo(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        click.echo(
            f"RTO {result.rto_seconds:.1f}s (restore {result.restore_seconds:.1f}s + verify "
            f"{result.verify_seconds:.1f}s) vs target {result.rto_target_seconds}s: "
            f"{'met' if result.rto_met else 'MISSED'}"
        )
        click.echo(
            f"RPO {result.rpo_seconds:.1f}s ({result.events_since_backup} events written since the backup) vs target "
            f"{result.rpo_target_seconds}s: {'met' if result.rpo_met else 'MISSED'}"
        )
    if not result.verified:
        raise click.ClickException("restore verification failed")
    if not result.ok:
        raise click.ClickException("RPO/RTO target missed")
