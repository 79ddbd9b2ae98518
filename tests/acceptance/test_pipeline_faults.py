"""Whole processes (`nmc dispatcher`, `nmc worker`) on the real Postgres and Redis (and RabbitMQ), killed with
SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from domain.events import outbox
from domain.events.catalog import TenantCreated
from ops.harness.forwarder import TcpForwarder
from ops.processes import stop_groups
from tests.support.grouped_handlers import CREATE_GROUP_EFFECTS_TABLE
from tests.support.pipeline_handlers import CREATE_EFFECTS_TABLE
from tests.support.services import RABBITMQ_URL
from tests.support.waiting import wait_until
from workers.broker import make_broker
from workers.rabbitmq import NamespacedRabbitmqBroker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Processes:
    def __init__(self, settings: Settings) -> None:
        self.env = os.environ | {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
            "HANDLER_MODULES": "tests.support.pipeline_handlers",
            "DELIVERY_LEASE_SECONDS": "3",
            "DELIVERY_REDRIVE_AFTER_SECONDS": "5",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "4",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "console",
        }
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops", command], cwd=ROOT, env=self.env, start_new_session=True
        )
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        stop_groups(self.running, grace_seconds=15)


@pytest.fixture
def processes(settings: Settings, engine: Engine) -> Iterator[Processes]:
    with engine.begin() as conn:
        conn.execute(text(CREATE_EFFECTS_TABLE))
    running = Processes(settings)
    yield running
    running.stop_all()


def test_a_worker_sigkilled_mid_group_loses_the_groups_writes_and_each_effect_happens_once(
    processes: Processes, sessions: sessionmaker[Session], engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(text(CREATE_GROUP_EFFECTS_TABLE))
    processes.env["HANDLER_MODULES"] = "tests.support.grouped_handlers"
    processes.start("dispatcher")
    processes.start("worker")
    # One transaction, so one dispatch and one message: the second event's group dies with its worker after its
    # first handler wrote, and the deliveries behind it in the message were claimed but never run.
    with sessions() as session, session.begin():
        events = [
            outbox.append(
                session, TenantCreated(name=script, phone_number="+13105550100", timezone="UTC"), tenant_id=uuid.uuid4()
            ).event_id
            for script in ("ok", "kill:1", "ok", "ok")
        ]
    wait_until(
        lambda: scalar(sessions, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'") == 12,
        60,
        "every delivery to finish after the SIGKILL",
    )
    with sessions() as session:
        effects = session.execute(text("SELECT event_id, handler, attempt FROM test_group_effects")).all()
        attempts = dict(
            session.execute(
                text("SELECT handler, attempts FROM outbox_deliveries WHERE event_id = :e"), {"e": events[1]}
            ).all()
        )
    assert len(effects) == len({(event_id, handler) for event_id, handler, _ in effects}) == 12
    # The killed group's first write died with its transaction; both its deliveries counted the killed attempt.
    assert {handler: attempt for event_id, handler, attempt in effects if event_id == events[1]} == {
        "grouped.project": 2,
        "grouped.count": 2,
        "grouped.call_out": 2,
    }
    assert attempts == {"grouped.project": 2, "grouped.count": 2, "grouped.call_out": 2}


def publish(sessions: sessionmaker[Session], script: str, count: int = 1) -> list[uuid.UUID]:
    with sessions() as session, session.begin():
        return [
            outbox.append(
                session,
                TenantCreated(name=script, phone_number="+13105550100", timezone="UTC"),
                tenant_id=uuid.uuid4(),
            ).event_id
            for _ in range(count)
        ]


def scalar(sessions: sessionmaker[Session], query: str, **params: object) -> int:
    with sessions() as session:
        return int(session.execute(text(query), params).scalar_one())


def test_an_event_reaches_its_handlers_through_real_processes(
    processes: Processes, sessions: sessionmaker[Session]
) -> None:
    processes.start("dispatcher")
    processes.start("worker")
    (event_id,) = publish(sessions, "ok")
    wait_until(
        lambda: scalar(sessions, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'") == 2, 30, "deliveries"
    )
    assert scalar(sessions, "SELECT count(*) FROM test_effects WHERE event_id = :e", e=event_id) == 2


def test_a_worker_sigkilled_mid_handler_still_counts_the_attempt_and_the_effect_happens_once(
    processes: Processes, sessions: sessionmaker[Session]
) -> None:
    processes.start("dispatcher")
    processes.start("worker")
    (event_id,) = publish(sessions, "kill:1")
    query = "SELECT status FROM outbox_deliveries WHERE event_id = :e AND handler = 'testing.follow_script'"

    def done() -> bool:
        with sessions() as session:
            return session.execute(text(query), {"e": event_id}).scalar() == "done"

    wait_until(done, 45, "the killed delivery to be retried and finish")
    attempts = scalar(
        sessions,
        "SELECT attempts FROM outbox_deliveries WHERE event_id = :e AND handler = 'testing.follow_script'",
        e=event_id,
    )
    assert attempts == 2  # the SIGKILLed attempt was counted durably
    # The killed attempt's writes died with its transaction: exactly one effect, from attempt 2.
    with sessions() as session:
        rows = (
            session.execute(
                text("SELECT attempt FROM test_effects WHERE event_id = :e AND handler = 'testing.follow_script'"),
                {"e": event_id},
            )
            .scalars()
            .all()
        )
    assert rows == [2]


SPARE_NEWCOMERS_SECONDS = 2.0


def test_dispatchers_sigkilled_at_random_lose_and_duplicate_nothing(
    processes: Processes, sessions: sessionmaker[Session]
) -> None:
    dispatchers = [processes.start("dispatcher"), processes.start("dispatcher")]
    processes.start("worker")
    started = [time.monotonic()] * len(dispatchers)
    stop = threading.Event()
    kills = 0
    chance = random.Random(7)

    def killer() -> None:
        nonlocal kills
        while not stop.wait(chance.uniform(0.2, 0.6)):
            index = chance.randrange(len(dispatchers))
            # Spare a dispatcher still starting up: it holds nothing to lose yet, and on a slow box killing every
            # newcomer before its first claim starved the drain (no dispatcher ever got to work).
            if time.monotonic() - started[index] < SPARE_NEWCOMERS_SECONDS:
                continue
            processes.kill(dispatchers[index])
            kills += 1
            dispatchers[index] = processes.start("dispatcher")
            started[index] = time.monotonic()

    thread = threading.Thread(target=killer)
    thread.start()
    published: list[uuid.UUID] = []
    try:
        for _ in range(40):
            published += publish(sessions, "ok", count=25)
            time.sleep(0.05)
        wait_until(
            lambda: scalar(sessions, "SELECT count(*) FROM outbox_events WHERE dispatched_at IS NULL") == 0,
            60,
            "the outbox to drain",
        )
    finally:
        stop.set()
        thread.join()
    assert kills >= 3
    wait_until(
        lambda: scalar(sessions, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'") == 2 * len(published),
        90,
        "every delivery to finish",
    )
    assert scalar(sessions, "SELECT count(*) FROM outbox_deliveries") == 2 * len(published)
    assert scalar(sessions, "SELECT count(*) FROM test_effects") == 2 * len(published)
    assert scalar(sessions, "SELECT count(DISTINCT (event_id, handler)) FROM test_effects") == 2 * len(published)


@pytest.fixture
def rabbitmq_proxy(settings: Settings) -> Iterator[TcpForwarder]:
    """This machine's RabbitMQ behind a proxy whose connections the test can cut; the run's queues are deleted
    afterwards (the node is shared)."""
    target = urlsplit(RABBITMQ_URL)
    proxy = TcpForwarder([(target.hostname or "127.0.0.1", target.port or 5672)])
    yield proxy
    proxy.close()
    broker = make_broker(settings.model_copy(update={"broker_url": RABBITMQ_URL}))
    assert isinstance(broker, NamespacedRabbitmqBroker)
    broker.delete_queues(["testing"])
    broker.close()


def test_on_rabbitmq_a_killed_worker_a_killed_dispatcher_and_dropped_broker_connections_lose_and_duplicate_nothing(
    processes: Processes, sessions: sessionmaker[Session], rabbitmq_proxy: TcpForwarder
) -> None:
    target = urlsplit(RABBITMQ_URL)
    processes.env["BROKER_URL"] = target._replace(
        netloc=f"{target.netloc.rsplit(':', 1)[0]}:{rabbitmq_proxy.port}"
    ).geturl()
    dispatcher = processes.start("dispatcher")
    processes.start("worker")
    (killed,) = publish(sessions, "kill:1")
    published = [killed]
    # Both processes hold their AMQP connections (the worker's consumer, the dispatcher's publisher) before the cut.
    wait_until(
        lambda: (
            scalar(sessions, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'") >= 1
            and rabbitmq_proxy.open_connections >= 2
        ),
        20,
        "the first delivery through RabbitMQ",
    )
    for batch in range(10):
        published += publish(sessions, "ok", count=10)
        if batch == 3:
            # Every AMQP connection of both processes dropped, new ones refused for a second: a broker restart, as
            # the processes see it. Unacknowledged messages go back to their queue; failed publishes are re-driven.
            assert rabbitmq_proxy.cut(refuse_seconds=1.0) >= 2
            refused_until = time.monotonic() + 1.0
        if batch == 6:
            processes.kill(dispatcher)
            # A dispatcher that starts while the broker refuses it stops with one line, by design (a supervisor
            # restarts it); the one started here must come up after the outage, or nothing would dispatch.
            time.sleep(max(0.0, refused_until + 0.2 - time.monotonic()))
            dispatcher = processes.start("dispatcher")
        time.sleep(0.1)
    total = 2 * len(published)
    wait_until(
        lambda: scalar(sessions, "SELECT count(*) FROM outbox_deliveries WHERE status = 'done'") == total,
        45,
        "every delivery to finish after the kills and the cut",
    )
    assert scalar(sessions, "SELECT count(*) FROM outbox_deliveries") == total
    assert scalar(sessions, "SELECT count(*) FROM test_effects") == total
    assert scalar(sessions, "SELECT count(DISTINCT (event_id, handler)) FROM test_effects") == total
    assert (
        scalar(
            sessions,
            "SELECT attempts FROM outbox_deliveries WHERE event_id = :e AND handler = 'testing.follow_script'",
            e=killed,
        )
        == 2
    )
