"""A whole running system (sandbox, ingress, dispatcher, worker) on a database cloned from the test template, with
the demo tenant and its staff seeded; its database and Redis namespace are gone afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from db.engine import make_engine, make_session_factory, transaction
from ops.stack import LocalStack
from ops.tenants import seed_demo
from tests.support.services import REDIS_URL, SERVER, base_settings


@contextmanager
def demo_stack(
    template_database: str, log_dir: Path, *, prefix: str, extra_env: dict[str, str], same_origin_clerk: bool = False
) -> Iterator[LocalStack]:
    """``same_origin_clerk`` makes the ingress its own Clerk authorized party (the staff app's pages are signed into
    from the ingress's own origin)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_database))
        )
    namespace = f"nmc-test-{uuid.uuid4().hex[:8]}"
    running = LocalStack(
        database_url=f"{SERVER}/{name}", redis_url=REDIS_URL, namespace=namespace, log_dir=log_dir, extra_env=extra_env
    )
    if same_origin_clerk:
        running.extra_env = {**running.extra_env, "CLERK_AUTHORIZED_PARTIES": running.ingress_url}
    settings = base_settings(database_url=running.database_url)
    engine = make_engine(settings, pool_size=1, max_overflow=0)
    with transaction(make_session_factory(engine)) as session:
        seed_demo(session, settings)
    engine.dispose()
    try:
        yield running.start()
    finally:
        running.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
        client.close()
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
