"""A whole scratch system for one run: its own database, a private Redis and the real processes on free ports.

The chaos and soak runs use it; everything it makes is removed after the run (unless asked to keep the database).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from db.engine import make_engine, make_session_factory, transaction
from db.migrate import upgrade
from db.settings import Settings
from domain.catalog.demo import seed_demo_catalog
from domain.events.sink import RootSink
from domain.scheduling.demo import seed_demo_schedule
from ops.harness.private_rabbitmq import PrivateRabbitmq
from ops.harness.private_redis import PrivateRedis
from ops.stack import LocalStack
from ops.tenants import DEMO_TIMEZONE, create_tenant_with_campaign

# Short leases and redrive delays so a killed worker's delivery and a message lost with Redis come back within
# seconds, not the production minutes; the handler time limit is the lease minus 5 s (workers/broker.py).
CHAOS_ENV = {
    "DELIVERY_LEASE_SECONDS": "10",
    "DELIVERY_REDRIVE_AFTER_SECONDS": "5",
    "WORKER_PROCESSES": "2",
    "WORKER_THREADS": "8",
    "INGRESS_WORKERS": "2",
    "SANDBOX_CALLBACK_DELAY_MS": "20",
}


def server_of(database_url: str) -> str:
    """The Postgres server part of a database URL (no database name), as a psycopg URL."""
    return database_url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")


def tenant_numbers(count: int) -> list[str]:
    return [f"+1312555{1000 + index:04d}" for index in range(count)]


def seed_tenants(settings: Settings, count: int) -> list[str]:
    """``count`` tenants like the demo one (approved campaign, pro plan, catalog, two resources with hours)."""
    numbers = tenant_numbers(count)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-chaos")
    try:
        with transaction(make_session_factory(engine)) as session:
            for index, number in enumerate(numbers):
                tenant = create_tenant_with_campaign(
                    session,
                    name=f"Chaos Plumbing {index}",
                    number=number,
                    forward_to=f"+1312555{2000 + index:04d}",
                    timezone=DEMO_TIMEZONE,
                    campaign="approved",
                    plan="pro",
                )
                tenant_id = uuid.UUID(tenant["id"])
                items = seed_demo_catalog(session, tenant_id=tenant_id, events=RootSink(session))
                seed_demo_schedule(
                    session, tenant_id=tenant_id, timezone=DEMO_TIMEZONE, service_item_ids=[item.id for item in items]
                )
    finally:
        engine.dispose()
    return numbers


@dataclass
class ScratchSystem:
    """A database, a private Redis (and RabbitMQ node, when that is the broker) and the four processes, all created
    for one run and removed after it."""

    database_url: str
    redis: PrivateRedis
    stack: LocalStack
    numbers: list[str]
    database: str
    rabbitmq: PrivateRabbitmq | None = None

    @property
    def admin_url(self) -> str:
        return f"{server_of(self.database_url)}/postgres"


@contextmanager
def scratch_system(
    settings: Settings,
    *,
    tenants: int,
    log_dir: Path,
    template: str | None = None,
    extra_env: dict[str, str] | None = None,
    keep: bool = False,
    prefix: str = "nmc_chaos",
    broker: str = "redis",
) -> Iterator[ScratchSystem]:
    """``broker`` "rabbitmq" runs the Dramatiq queues on a private RabbitMQ node (Redis keeps the heartbeats)."""
    server = server_of(settings.database_url)
    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    database_url = f"{server}/{database}"
    scratch = settings.model_copy(update={"database_url": database_url})
    log_dir.mkdir(parents=True, exist_ok=True)
    if template:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(database), sql.Identifier(template))
            )
    else:
        upgrade(scratch)
    private = PrivateRedis(log_dir)
    rabbitmq = PrivateRabbitmq(log_dir) if broker == "rabbitmq" else None
    stack: LocalStack | None = None
    try:
        if rabbitmq is not None:
            rabbitmq.launch()  # it boots while the tenants are seeded
        numbers = seed_tenants(scratch, tenants)
        private.start()
        broker_env = {}
        if rabbitmq is not None:
            rabbitmq.wait_ready()
            broker_env["BROKER_URL"] = rabbitmq.url
        stack = LocalStack(
            database_url=database_url,
            redis_url=private.url,
            namespace=f"nmc-chaos-{uuid.uuid4().hex[:8]}",
            log_dir=log_dir,
            extra_env={**CHAOS_ENV, **broker_env, **(extra_env or {})},
        )
        stack.start(timeout=60)
        yield ScratchSystem(database_url, private, stack, numbers, database, rabbitmq)
    finally:
        if stack is not None:
            stack.stop()
        private.stop()
        if rabbitmq is not None:
            rabbitmq.stop()
        if not keep:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(database)))
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
