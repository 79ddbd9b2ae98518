"""`nmc migrate`: create the database if it is missing, then bring the schema to head. Idempotent and safe to
run from several processes at once (an advisory lock serialises them)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql

from db.settings import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x6E6D63  # "nmc": one advisory lock id shared by every migrating process


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    config.attributes["settings"] = settings
    return config


def server_url(settings: Settings, database: str = "postgres") -> str:
    base = settings.database_url.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql+psycopg://", "postgresql://")


def ensure_database(settings: Settings) -> bool:
    """Create the target database when it does not exist; True if it was created."""
    name = settings.database_name
    with psycopg.connect(server_url(settings), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # another process won the race: the database exists, which is all we need
        return True


def upgrade(settings: Settings, revision: str = "head") -> None:
    ensure_database(settings)
    command.upgrade(alembic_config(settings), revision)


def current_revision(settings: Settings) -> str | None:
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        return None if row is None else str(row[0])
