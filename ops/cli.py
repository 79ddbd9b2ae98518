"""`nmc`: the one command-line entry point. Settings are read once here and passed down."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from db.settings import Settings, SettingsError
from ops import commands
from ops.context import cli_sessions, echo_json, get_settings
from ops.failures import describe

# The shared command helpers live in ops/context.py; named here too for callers of the old home.
__all__ = ["cli", "cli_sessions", "echo_json", "get_settings", "main"]


class NmcGroup(click.Group):
    """Turns any expected failure into one line on stderr and a non-zero exit, and loads each command's module only
    when the command is asked for (see ``ops.commands.COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(commands.COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in commands.COMMANDS:
            try:
                self.add_command(commands.load(cmd_name))
            except OSError as error:
                # Importing a command can already fail on the environment (PROMETHEUS_MULTIPROC_DIR missing).
                raise click.ClickException(describe(error, None) or str(error)) from None
        return self.commands.get(cmd_name)

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


def _register() -> None:
    """Load every command now (for callers that walk ``cli.commands``); running `nmc` loads only the one it runs."""
    for name in commands.COMMANDS:
        cli.get_command(click.Context(cli), name)


def _drop_empty_multiprocess_dir() -> None:
    # prometheus_client switches to multiprocess mode when the variable merely exists, and then writes its sample
    # files to os.path.join("", ...): the working directory. Empty means "off" for nmc, so it must not exist at all
    # by the time the commands import prometheus_client.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def main() -> None:
    _drop_empty_multiprocess_dir()
    try:
        cli.main(prog_name="nmc", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
