"""Scratch databases for the benchmarks: created fresh and migrated for each run, dropped afterwards.

A benchmark never writes to the configured database: runs stay reproducible (no dead tuples left by the previous
run, which matters where autovacuum is off) and the user's data is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import psycopg
import redis
from psycopg import sql

from db.migrate import server_url, upgrade
from db.settings import Settings


def scratch_database(settings: Settings, suffix: str) -> Settings:
    """Settings for a new, migrated ``<database>_<suffix>`` (any leftover of that name is dropped first) and a
    Redis namespace of its own."""
    name = f"{settings.database_name}_{suffix}"
    _drop(settings, name)
    scratch = settings.model_copy(
        update={
            "database_url": settings.database_url.rsplit("/", 1)[0] + f"/{name}",
            "dramatiq_namespace": f"nmc-{suffix.replace('_', '-')}-{uuid.uuid4().hex[:8]}",
        }
    )
    upgrade(scratch)
    return scratch


def drop_database(settings: Settings) -> None:
    _drop(settings, settings.database_name)


def drop_namespace(settings: Settings, queues: Iterable[str] = ()) -> None:
    """Delete every Redis key of the run's Dramatiq namespace (queues, wake-up lists, heartbeats of its broker) and,
    when the broker is RabbitMQ, the namespace's AMQP queues for ``queues`` (AMQP cannot list them)."""
    if settings.broker_is_rabbitmq and queues:
        from workers.broker import make_broker
        from workers.rabbitmq import NamespacedRabbitmqBroker

        broker = make_broker(settings)
        try:
            if isinstance(broker, NamespacedRabbitmqBroker):
                broker.delete_queues(list(queues))
        finally:
            broker.close()
    urls = {settings.redis_url}
    if settings.broker_url and not settings.broker_is_rabbitmq:
        urls.add(settings.broker_url)  # the queues on a Redis of their own
    for url in sorted(urls):
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{settings.dramatiq_namespace}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def _drop(settings: Settings, name: str) -> None:
    with psycopg.connect(server_url(settings), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def checkpoint(settings: Settings) -> str | None:
    """Flush the WAL before a measurement, so a checkpoint made due by earlier writes does not land in the middle of
    it (seen here as a steady-load P95 of 800 ms instead of 15 ms). Returns why it could not, if it could not
    (CHECKPOINT needs superuser or pg_checkpoint; without it the figures are only noisier)."""
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None
