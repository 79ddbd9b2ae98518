"""`nmc status`: the pipeline at a glance — outbox backlog and lag, deliveries, DLQ, Dramatiq queues, liveness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

from db import heartbeats
from db.engine import make_engine, make_session_factory
from db.settings import Settings
from ops.context import echo_json, get_settings
from workers.rabbitmq import NamespacedRabbitmqBroker

# Dramatiq's Redis broker keeps, per queue: ``<ns>:<q>`` (list of ready message ids), ``<ns>:<q>.msgs`` (hash of
# every message not yet acked, ready or in flight), the same two for the delay queue ``<q>.DQ``, and ``<ns>:<q>.XQ``
# (sorted set of dead-lettered ids); ``<ns>:__heartbeats__`` scores each consumer by its last heartbeat (ms).
_SUFFIXES = (".DQ.msgs", ".XQ.msgs", ".msgs", ".DQ", ".XQ")
DRAMATIQ_HEARTBEAT_TIMEOUT_MS = 60_000


# The pipeline's tables see an update or delete for nearly every insert; without vacuum their dead rows pile up and
# every claim, dedupe and redrive query slows down (seen on a development server with autovacuum off).
CHURNING_TABLES = ("webhook_events", "outbox_events", "outbox_deliveries", "processed_events")
DEAD_ROWS_WORTH_A_WARNING = 100_000


def database_status(session: Session, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    pending, oldest = session.execute(
        text("SELECT count(*), min(created_at) FROM outbox_events WHERE dispatched_at IS NULL")
    ).one()
    last_dispatch = session.execute(text("SELECT max(dispatched_at) FROM outbox_events")).scalar()
    deliveries: dict[str, int] = dict(
        session.execute(text("SELECT status, count(*) FROM outbox_deliveries GROUP BY status ORDER BY status")).all()
    )
    dlq = session.execute(text("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")).scalar_one()
    autovacuum = session.execute(text("SELECT current_setting('autovacuum') = 'on'")).scalar_one()
    dead_rows: dict[str, int] = dict(
        session.execute(
            text("SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE relname = ANY(:tables) ORDER BY relname"),
            {"tables": list(CHURNING_TABLES)},
        ).all()
    )
    return {
        "outbox_pending": int(pending),
        "outbox_oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        "last_dispatch_at": last_dispatch.isoformat() if last_dispatch else None,
        "last_dispatch_age_seconds": round((now - last_dispatch).total_seconds(), 3) if last_dispatch else None,
        "deliveries": {status: int(count) for status, count in deliveries.items()},
        "dlq_size": int(dlq),
        "autovacuum": bool(autovacuum),
        "dead_rows": {table: int(count) for table, count in dead_rows.items()},
    }


def queue_depths(client: redis.Redis, namespace: str) -> dict[str, dict[str, int]]:
    """Per Dramatiq queue: ready (waiting in the list), unacked (ready + in flight), delayed, dead-lettered."""
    prefix = f"{namespace}:"
    names: set[str] = set()
    for raw in client.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        rest = key[len(prefix) :]
        if rest.startswith("__"):
            continue  # acks and heartbeats
        for suffix in _SUFFIXES:
            if rest.endswith(suffix):
                rest = rest[: -len(suffix)]
                break
        names.add(rest)
    depths: dict[str, dict[str, int]] = {}
    for name in sorted(names):
        pipe = client.pipeline(transaction=False)
        pipe.llen(f"{prefix}{name}")
        pipe.hlen(f"{prefix}{name}.msgs")
        pipe.hlen(f"{prefix}{name}.DQ.msgs")
        pipe.zcard(f"{prefix}{name}.XQ")
        answers = pipe.execute(raise_on_error=False)
        for key, answer in zip((name, f"{name}.msgs", f"{name}.DQ.msgs", f"{name}.XQ"), answers, strict=True):
            if isinstance(answer, Exception):  # a key of the namespace that is not Dramatiq's
                raise redis.ResponseError(f"{answer} (key {prefix}{key})")
        ready, unacked, delayed, dead = answers
        depths[name] = {"ready": ready, "unacked": unacked, "delayed": delayed, "dead": dead}
    return depths


def rabbitmq_queue_depths(settings: Settings) -> dict[str, dict[str, int | None]]:
    """The handler modules' queues as RabbitMQ counts them (AMQP does not say how many are in flight: None)."""
    from workers.bootstrap import handler_modules
    from workers.broker import make_broker
    from workers.registry import load_subscriptions

    queues = sorted({source.module for source in load_subscriptions(handler_modules(settings))})
    broker = make_broker(settings)
    try:
        return broker.queue_depths(queues) if isinstance(broker, NamespacedRabbitmqBroker) else {}
    finally:
        broker.close()


def dramatiq_consumers(client: redis.Redis, namespace: str, now_ms: int | None = None) -> int:
    """Dramatiq consumers that heartbeated within its own timeout (workers alive from the broker's view)."""
    now_ms = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    return int(client.zcount(f"{namespace}:__heartbeats__", now_ms - DRAMATIQ_HEARTBEAT_TIMEOUT_MS, "+inf"))


def process_status(client: redis.Redis, namespace: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for beat in heartbeats.alive(client, namespace):
        found.setdefault(beat.process, []).append(
            {"pid": beat.pid, "host": beat.host, "age_seconds": round(beat.age_seconds, 1), "ttl": beat.ttl_seconds}
        )
    return found


EXPECTED_PROCESSES = ("ingress", "dispatcher", "worker", "scheduler")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Outbox pending and lag, deliveries by status, DLQ size, Dramatiq queue depths, last dispatch, liveness."""
    settings = get_settings(ctx)
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-status")
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    # An unreachable Postgres or Redis is reported in one line by the CLI (without the URLs' passwords).
    try:
        with make_session_factory(engine)() as session:
            report: dict[str, Any] = database_status(session)
    finally:
        engine.dispose()
    try:
        if settings.broker_is_rabbitmq:
            report["queues"] = rabbitmq_queue_depths(settings)
            report["dramatiq_consumers"] = sum(int(depth["consumers"] or 0) for depth in report["queues"].values())
        elif settings.broker_url:  # the queues on a Redis of their own
            queues = redis.Redis.from_url(settings.broker_url, socket_timeout=3, socket_connect_timeout=3)
            try:
                report["queues"] = queue_depths(queues, settings.dramatiq_namespace)
                report["dramatiq_consumers"] = dramatiq_consumers(queues, settings.dramatiq_namespace)
            finally:
                queues.close()
        else:
            report["queues"] = queue_depths(client, settings.dramatiq_namespace)
            report["dramatiq_consumers"] = dramatiq_consumers(client, settings.dramatiq_namespace)
        report["processes"] = process_status(client, settings.dramatiq_namespace)
    finally:
        client.close()
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"outbox      pending {report['outbox_pending']}, oldest {report['outbox_oldest_age_seconds']:.1f}s, "
        f"last dispatch {_age(report['last_dispatch_age_seconds'])}"
    )
    deliveries = ", ".join(f"{name} {count}" for name, count in report["deliveries"].items()) or "none"
    click.echo(f"deliveries  {deliveries}")
    click.echo(f"dlq         {report['dlq_size']} unreplayed")
    dead = sum(report["dead_rows"].values())
    if not report["autovacuum"] or dead >= DEAD_ROWS_WORTH_A_WARNING:
        worst = ", ".join(f"{table} {count:,}" for table, count in report["dead_rows"].items() if count)
        cause = "autovacuum is OFF" if not report["autovacuum"] else "vacuum is falling behind"
        click.echo(
            f"vacuum      WARNING: {cause}; dead rows: {worst or 'none yet'}. Turn autovacuum on (or VACUUM these "
            "tables regularly): dead rows slow every claim and dedupe."
        )
    else:
        click.echo(f"vacuum      autovacuum on, {dead:,} dead rows in the pipeline tables")
    if report["queues"]:
        for name, depth in report["queues"].items():
            click.echo(
                f"queue       {name:<14} ready {depth['ready']}, unacked {_count(depth['unacked'])}, "
                f"delayed {depth['delayed']}, dead {depth['dead']}"
            )
    else:
        click.echo(f"queue       (none in {'RabbitMQ' if settings.broker_is_rabbitmq else 'Redis'})")
    seen = "on their queues" if settings.broker_is_rabbitmq else "heartbeating"
    click.echo(f"consumers   {report['dramatiq_consumers']} Dramatiq consumer(s) {seen}")
    for name in sorted(set(EXPECTED_PROCESSES) | set(report["processes"])):
        beats = report["processes"].get(name, [])
        state = f"up ({len(beats)}: pids {', '.join(str(b['pid']) for b in beats)})" if beats else "DOWN"
        click.echo(f"process     {name:<14} {state}")


def _count(value: int | None) -> str:
    return "unknown" if value is None else str(value)


def _age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}s ago"
