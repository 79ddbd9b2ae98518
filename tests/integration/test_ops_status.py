"""`nmc status` and the pieces it reads: outbox lag, deliveries, DLQ, Dramatiq queue depths, heartbeats; and the
pipeline gauges the scheduler refreshes."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import dramatiq
import redis
from click.testing import CliRunner
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db import heartbeats, metrics
from db.settings import Settings
from ops.cli import cli
from ops.commands.status import database_status, dramatiq_consumers, process_status, queue_depths
from ops.commands.up import run_is_consuming

NOW = datetime.now(UTC)


def _seed(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        for age, dispatched in ((90, None), (10, None), (300, 200), (120, 30)):
            event_id = uuid.uuid4()
            session.execute(
                text(
                    "INSERT INTO outbox_events (event_id, event_name, schema_version, occurred_at, correlation_id, "
                    "payload, created_at, dispatched_at) VALUES (:id, 'nmc.telephony.CallMissed', 1, :at, :id, '{}',"
                    " :at, :dispatched)"
                ),
                {
                    "id": event_id,
                    "at": NOW - timedelta(seconds=age),
                    "dispatched": None if dispatched is None else NOW - timedelta(seconds=dispatched),
                },
            )
            if dispatched is None:
                continue
            for handler, state in (("a.one", "done"), ("a.two", "dead"), ("a.three", "retrying")):
                delivery = uuid.uuid4()
                session.execute(
                    text(
                        "INSERT INTO outbox_deliveries (id, event_id, handler, queue, status) "
                        "VALUES (:d, :e, :h, 'a', :s)"
                    ),
                    {"d": delivery, "e": event_id, "h": handler, "s": state},
                )
                if state == "dead":
                    session.execute(
                        text(
                            "INSERT INTO dead_letters (id, delivery_id, event_id, event_name, handler, envelope, "
                            "attempts, last_error, traceback, replayed_at) VALUES (gen_random_uuid(), :d, :e, "
                            "'nmc.telephony.CallMissed', :h, '{}', 6, 'x', 'x', :r)"
                        ),
                        {"d": delivery, "e": event_id, "h": handler, "r": NOW if age == 300 else None},
                    )


def test_database_status_and_pipeline_gauges(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as session:
        report = database_status(session, now=NOW)
        gauges = metrics.refresh_pipeline_gauges(session, now=NOW)
    assert report["outbox_pending"] == 2
    assert 89.0 <= report["outbox_oldest_age_seconds"] <= 91.0
    assert 29.0 <= report["last_dispatch_age_seconds"] <= 31.0
    assert report["deliveries"] == {"dead": 2, "done": 2, "retrying": 2}
    assert report["dlq_size"] == 1  # one of the two dead letters was replayed
    assert isinstance(report["autovacuum"], bool)
    assert set(report["dead_rows"]) <= {"webhook_events", "outbox_events", "outbox_deliveries", "processed_events"}
    assert gauges["outbox_pending"] == 2
    assert 89.0 <= gauges["outbox_oldest_age_seconds"] <= 91.0
    assert gauges["dlq_size"] == 1
    body, _ = metrics.render_metrics()
    assert b"nmc_outbox_pending 2.0" in body
    assert b"nmc_dlq_size 1.0" in body


def test_queue_depths_read_dramatiqs_own_redis_layout(settings: Settings, redis_namespace: str) -> None:
    broker = RedisBroker(url=settings.redis_url, namespace=redis_namespace)
    try:
        for _ in range(3):
            broker.enqueue(dramatiq.Message(queue_name="reporting", actor_name="x", args=(), kwargs={}, options={}))
        broker.enqueue(
            dramatiq.Message(queue_name="conversations", actor_name="y", args=(), kwargs={}, options={}), delay=60_000
        )
        client = redis.Redis.from_url(settings.redis_url)
        depths = queue_depths(client, redis_namespace)
        assert depths["reporting"] == {"ready": 3, "unacked": 3, "delayed": 0, "dead": 0}
        assert depths["conversations"] == {"ready": 0, "unacked": 0, "delayed": 1, "dead": 0}
        # A consumer that fetched a message: it is no longer "ready" but still unacked.
        consumer = broker.consume("reporting", prefetch=1, timeout=100)
        message = next(iter(consumer))
        assert message is not None
        depths = queue_depths(client, redis_namespace)
        assert depths["reporting"]["ready"] == 2
        assert depths["reporting"]["unacked"] == 3
        assert dramatiq_consumers(client, redis_namespace) == 1
        consumer.ack(message)
        consumer.close()
        assert queue_depths(client, redis_namespace)["reporting"] == {"ready": 2, "unacked": 2, "delayed": 0, "dead": 0}
        client.close()
    finally:
        broker.close()


def test_heartbeats_expire_on_their_own(settings: Settings, redis_namespace: str) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    heartbeats.beat(client, redis_namespace, "dispatcher", pid=101)
    heartbeats.beat(client, redis_namespace, "worker", pid=202, ttl_seconds=5)
    heartbeats.beat(client, redis_namespace, "worker", pid=203)
    found = process_status(client, redis_namespace)
    assert sorted(found) == ["dispatcher", "worker"]
    assert [entry["pid"] for entry in found["worker"]] == [202, 203]
    prefix = heartbeats.prefix_for(redis_namespace)
    assert client.ttl(f"{prefix}:worker:202") <= 5
    heartbeats.stop(client, redis_namespace, "worker", pid=203)
    client.pexpire(f"{prefix}:dispatcher:101", 1)  # a killed process: its key simply runs out
    time.sleep(0.02)
    assert {beat.pid for beat in heartbeats.alive(client, redis_namespace)} == {202}
    client.close()


def test_heartbeats_are_the_namespaces_own_and_no_queue(settings: Settings, redis_namespace: str) -> None:
    """Two systems on one Redis: each sees its own processes only, and a heartbeat is never read as a queue."""
    client = redis.Redis.from_url(settings.redis_url)
    other = f"{redis_namespace}-other"
    try:
        heartbeats.beat(client, redis_namespace, "dispatcher", pid=101)
        heartbeats.beat(client, other, "dispatcher", pid=909)
        heartbeats.beat(client, other, "ingress", pid=910)
        assert {beat.pid for beat in heartbeats.alive(client, redis_namespace)} == {101}
        assert sorted(process_status(client, other)) == ["dispatcher", "ingress"]
        assert queue_depths(client, redis_namespace) == {}
    finally:
        client.delete(*client.keys(f"{other}:*"))
        client.close()


def _status_env(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
    }


def test_nmc_status_names_a_redis_error_for_what_it_is(settings: Settings) -> None:
    from ops.cli import _register

    _register()
    runner = CliRunner()
    env = _status_env(settings)
    client = redis.Redis.from_url(settings.redis_url)
    client.set(f"{settings.dramatiq_namespace}:stray", "a string where a queue list belongs")
    client.close()
    answered = runner.invoke(cli, ["status"], env=env)
    assert answered.exit_code == 1
    assert "WRONGTYPE" in answered.output
    assert "cannot reach" not in answered.output  # Redis was reached: it answered with an error
    assert "stray" in answered.output  # ...about this key
    unreachable = runner.invoke(cli, ["status"], env={**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert unreachable.exit_code == 1
    assert "cannot reach Redis at 127.0.0.1:1" in unreachable.output
    assert "Traceback" not in answered.output + unreachable.output


def test_nmc_status_command(settings: Settings, sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
    }
    from ops.cli import _register

    _register()
    runner = CliRunner()
    result = runner.invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["outbox_pending"] == 2
    assert data["dlq_size"] == 1
    assert data["queues"] == {}
    assert "processes" in data
    text_result = runner.invoke(cli, ["status"], env=env)
    assert text_result.exit_code == 0, text_result.output
    assert "outbox      pending 2" in text_result.output
    # Either healthy or a warning naming the cause; this development server runs with autovacuum off.
    vacuum_line = next(line for line in text_result.output.splitlines() if line.startswith("vacuum"))
    assert vacuum_line.startswith("vacuum      autovacuum on,") != ("WARNING" in vacuum_line)
    if not data["autovacuum"]:
        assert "autovacuum is OFF" in vacuum_line
    bad = runner.invoke(cli, ["status"], env={**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nope"})
    assert bad.exit_code == 1
    assert "cannot reach Postgres" in bad.output


def test_alive_since_counts_only_processes_that_beat_after_the_run_began(
    settings: Settings, redis_namespace: str
) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    heartbeats.beat(client, redis_namespace, "dispatcher", pid=101)  # left over from an earlier run
    since = time.time()
    heartbeats.beat(client, redis_namespace, "dispatcher", pid=102)
    heartbeats.beat(client, redis_namespace, "worker-consumer", pid=201)
    heartbeats.beat(client, redis_namespace, "worker-consumer", pid=202)
    assert heartbeats.alive_since(client, redis_namespace, since) == {"dispatcher": 1, "worker-consumer": 2}
    client.close()


def test_nmc_up_is_ready_only_on_its_own_processes(settings: Settings, redis_namespace: str) -> None:
    """Another `nmc up` on the same Redis and namespace, beating right now, does not make this one ready."""
    client = redis.Redis.from_url(settings.redis_url)
    here = socket.gethostname()
    dispatcher, pool = 4_000_001, 4_000_002  # this run's children, as `nmc up` knows them
    heartbeats.beat(client, redis_namespace, "dispatcher", pid=5_000_001)
    heartbeats.beat(client, redis_namespace, "worker-consumer", pid=5_000_003, ppid=5_000_002)
    assert not run_is_consuming(heartbeats.alive(client, redis_namespace), here, dispatcher, pool)
    heartbeats.beat(client, redis_namespace, "dispatcher", pid=dispatcher)
    assert not run_is_consuming(heartbeats.alive(client, redis_namespace), here, dispatcher, pool)
    heartbeats.beat(client, redis_namespace, "worker-consumer", pid=4_000_003, ppid=pool)
    assert run_is_consuming(heartbeats.alive(client, redis_namespace), here, dispatcher, pool)
    assert not run_is_consuming(heartbeats.alive(client, redis_namespace), "another-host", dispatcher, pool)
    client.close()


def test_nmc_status_reads_the_queues_where_broker_url_puts_them(settings: Settings, redis_namespace: str) -> None:
    queues_url = settings.redis_url.rsplit("/", 1)[0] + "/1"  # another database of the same server: the queues only
    broker = RedisBroker(url=queues_url, namespace=redis_namespace)
    queues = redis.Redis.from_url(queues_url)
    try:
        broker.enqueue(dramatiq.Message(queue_name="reporting", actor_name="x", args=(), kwargs={}, options={}))
        env = {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "BROKER_URL": queues_url,
            "DRAMATIQ_NAMESPACE": redis_namespace,
        }
        from ops.cli import _register

        _register()
        result = CliRunner().invoke(cli, ["status", "--json"], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["queues"]["reporting"]["ready"] == 1
    finally:
        broker.close()
        keys = list(queues.scan_iter(match=f"{redis_namespace}*"))
        if keys:
            queues.delete(*keys)
        queues.close()
