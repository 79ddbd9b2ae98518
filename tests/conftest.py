"""Test infrastructure on the real Postgres and Redis of this machine.

The schema is migrated once into a template database whose name carries a hash of the migrations and models, so
every test gets its own database cloned from it (``CREATE DATABASE … TEMPLATE``), made one test ahead by
``tests/support/databases.py`` so that the clone's time overlaps the test before it.
Each test also gets its own Redis namespace for Dramatiq, deleted afterwards.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.settings import Settings
from tests.support.databases import DatabaseSupply
from tests.support.services import REDIS_URL, SERVER, base_settings

ROOT = Path(__file__).resolve().parents[1]


def _schema_fingerprint() -> str:
    digest = hashlib.sha256()
    for folder in ("db", "domain"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "models" in path.name or "migrations" in path.parts:
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def template_database() -> str:
    name = f"nmc_tpl_{_schema_fingerprint()}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        # Serialise template creation across concurrent pytest sessions on this machine.
        conn.execute("SELECT pg_advisory_lock(7301)")
        try:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                building = f"{name}_building"
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(building)))
                upgrade(base_settings(database_url=f"{SERVER}/{building}"))
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name))
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(7301)")
    return name


@pytest.fixture(scope="session")
def database_supply(template_database: str) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(SERVER, template_database)
    yield supply
    supply.close()


@pytest.fixture
def database_url(database_supply: DatabaseSupply) -> Iterator[str]:
    name = database_supply.take()
    yield f"{SERVER}/{name}"
    database_supply.give_back(name)


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    namespace = f"nmc-test-{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(database_url: str, redis_namespace: str) -> Settings:
    return base_settings(database_url=database_url, dramatiq_namespace=redis_namespace)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings, pool_size=10, max_overflow=20, application_name="nmc-test")
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
