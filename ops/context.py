"""What every `nmc` command shares: the settings read once per command, a small session pool, JSON output.

A module of its own, below the commands and the root group: a command imports these without importing the CLI
that registers it (which is what once tied `ops/cli.py` and every command into one import cycle).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings, SettingsError


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
