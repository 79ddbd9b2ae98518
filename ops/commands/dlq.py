"""`nmc dlq list|show|replay`: the dead letters, for operators."""

from __future__ import annotations

import sys
import uuid

import click

from ops.commands.params import TENANT_HELP, resolve_tenant
from ops.context import cli_sessions, echo_json, get_settings
from workers.dlq import ReplayResult, get_dead_letter, list_dead_letters, replay_one


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a UUID", param_hint=what) from None


@click.group()
def dlq() -> None:
    """Dead letters: deliveries that failed every attempt."""


@dlq.command("list")
@click.option("--tenant", help=f"Only this tenant's. {TENANT_HELP}")
@click.option("--event", "event_name", help="Only this event name, e.g. nmc.telephony.CallMissed.")
@click.option("--handler", help="Only this handler, e.g. conversations.send_first_sms.")
@click.option("--all", "include_replayed", is_flag=True, help="Include dead letters already replayed.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_command(
    ctx: click.Context,
    tenant: str | None,
    event_name: str | None,
    handler: str | None,
    include_replayed: bool,
    as_json: bool,
) -> None:
    """List dead letters, oldest first."""
    settings = get_settings(ctx)
    with cli_sessions(settings) as sessions, sessions() as session:
        letters = list_dead_letters(
            session,
            tenant_id=resolve_tenant(session, tenant).id if tenant else None,
            event_name=event_name,
            handler=handler,
            include_replayed=include_replayed,
        )
    if as_json:
        echo_json([letter.summary() for letter in letters])
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        replayed = f" replayed {letter.replayed_at:%Y-%m-%d %H:%M}" if letter.replayed_at else ""
        click.echo(
            f"{letter.id}  {letter.dead_at:%Y-%m-%d %H:%M:%S}  {letter.event_name}  {letter.handler}"
            f"  x{letter.attempts}  {letter.last_error[:80]}{replayed}"
        )


@dlq.command("show")
@click.argument("dead_letter_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_command(ctx: click.Context, dead_letter_id: str, as_json: bool) -> None:
    """Show one dead letter: envelope, error and traceback."""
    settings = get_settings(ctx)
    target = _uuid(dead_letter_id, "ID")
    with cli_sessions(settings) as sessions, sessions() as session:
        letter = get_dead_letter(session, target)
    if letter is None:
        raise click.ClickException(f"no dead letter {dead_letter_id}")
    data = letter.summary() | {"envelope": letter.envelope, "traceback": letter.traceback}
    if as_json:
        echo_json(data)
        return
    for key, value in letter.summary().items():
        click.echo(f"{key:>12}: {value}")
    click.echo("    envelope:")
    echo_json(letter.envelope)
    click.echo("   traceback:")
    click.echo(letter.traceback)


@dlq.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Every dead letter not yet replayed.")
@click.option("--dry-run", is_flag=True, help="Validate and show what would be replayed; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def replay_command(ctx: click.Context, ids: tuple[str, ...], replay_all: bool, dry_run: bool, as_json: bool) -> None:
    """Re-deliver dead letters (re-validated against the current Event Catalog; idempotent)."""
    from workers.broker import make_broker

    if bool(ids) == replay_all:
        raise click.UsageError("give dead letter IDs or --all (not both)")
    settings = get_settings(ctx)
    explicit = [_uuid(value, "ID") for value in ids]
    broker = make_broker(settings)
    results: list[ReplayResult] = []
    with cli_sessions(settings) as sessions:
        if replay_all:
            with sessions() as session:
                explicit = [letter.id for letter in list_dead_letters(session, limit=1_000_000)]
        try:
            # A bar only for --all (where the database has already answered): IDs named one by one need none.
            if replay_all:
                with click.progressbar(explicit, label="replaying", file=sys.stderr, show_pos=True) as bar:
                    results.extend(replay_one(sessions, broker, target, dry_run=dry_run) for target in bar)
            else:
                results.extend(replay_one(sessions, broker, target, dry_run=dry_run) for target in explicit)
        finally:
            broker.close()
    if as_json:
        echo_json([{"id": str(r.dead_letter_id), "status": r.status, "detail": r.detail} for r in results])
    else:
        for result in results:
            click.echo(f"{result.dead_letter_id}  {result.status}" + (f"  {result.detail}" if result.detail else ""))
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        click.echo(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to replay")
    if any(r.status in {"invalid", "not_found"} for r in results):
        ctx.exit(1)
