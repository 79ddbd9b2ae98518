"""`nmc`: the one command-line entry point. Settings are read once here and passed down."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings, SettingsError
from ops.failures import describe


class NmcGroup(click.Group):
    """Turns any expected failure into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
        except Exception as error:
            # Database, Redis, broker, HTTP and OS errors, from any command: one line naming what failed.
            message = describe(error, ctx.obj if isinstance(ctx.obj, Settings) else None)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=NmcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nevermisscall", prog_name="nmc", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """NeverMissCall: missed call to booked appointment over SMS."""
    ctx.obj = None


def get_settings(ctx: click.Context) -> Settings:
    """Settings are read on first use (not for --help) and then shared by the whole command."""
    root = ctx.find_root()
    if root.obj is None:
        try:
            root.obj = Settings.from_env()
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
    settings: Settings = root.obj
    return settings


@contextmanager
def cli_sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A small pool for one command, disposed when it ends (no connection outlives the command)."""
    engine = make_engine(settings, pool_size=1, max_overflow=1, application_name="nmc-cli")
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


def _register() -> None:
    from ops import commands

    for command in commands.ALL:
        cli.add_command(command)


def main() -> None:
    try:
        # Importing the commands can already fail on the environment (PROMETHEUS_MULTIPROC_DIR missing).
        _register()
    except OSError as error:
        click.echo(f"Error: {describe(error, None)}", err=True)
        sys.exit(1)
    try:
        cli.main(prog_name="nmc", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
