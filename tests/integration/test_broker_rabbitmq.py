"""The RabbitMQ broker on this machine's RabbitMQ: namespaced durable queues, persistent messages pushed to an idle
consumer at once, the queue head read for the redriver without taking it away, and a lost connection survived."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
from dramatiq.errors import ConnectionClosed

from db.settings import Settings
from ops.commands.status import rabbitmq_queue_depths
from ops.doctor import examine
from ops.stack import free_port
from tests.support.services import RABBITMQ_URL
from workers.broker import delivery_message, make_broker
from workers.rabbitmq import NamespacedRabbitmqBroker

QUEUE = "rabbit_test"


@pytest.fixture
def rabbit_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"broker_url": RABBITMQ_URL})


@pytest.fixture
def broker(rabbit_settings: Settings) -> Iterator[NamespacedRabbitmqBroker]:
    broker = make_broker(rabbit_settings)
    assert isinstance(broker, NamespacedRabbitmqBroker)
    broker.declare_queue(QUEUE, ensure=True)
    yield broker
    broker.delete_queues([QUEUE])
    broker.close()


def stamped(at: datetime, *ids: str) -> Any:
    return delivery_message(QUEUE, *ids, enqueued_at=at)


def next_message(consumer: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        proxy = next(consumer)
        if proxy is not None:
            return proxy
    raise AssertionError(f"no message within {within} s")


def turns(consumer: Any, count: int) -> None:
    for _ in range(count):
        next(consumer)


def test_queues_are_durable_and_live_in_the_namespace(broker: NamespacedRabbitmqBroker, settings: Settings) -> None:
    channel = broker.channel
    declared = channel.queue_declare(queue=f"{settings.dramatiq_namespace}.{QUEUE}", passive=True)
    assert declared.method.message_count == 0
    # Declaring it again as non-durable is refused: it exists durable.
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="durable"):
        channel.queue_declare(queue=f"{settings.dramatiq_namespace}.{QUEUE}", durable=False)
    del broker.channel
    broker.enqueue(stamped(datetime.now(UTC), "a"))
    method, properties, _ = broker.channel.basic_get(broker.amqp_queue(QUEUE), auto_ack=True)
    assert method is not None
    assert properties.delivery_mode == 2
    assert broker.queue_depths([QUEUE, "never_declared"]) == {
        QUEUE: {"ready": 0, "unacked": None, "delayed": 0, "dead": 0, "consumers": 0}
    }


def test_an_idle_consumer_is_pushed_a_message_as_soon_as_it_is_published(broker: NamespacedRabbitmqBroker) -> None:
    consumer = broker.consume(QUEUE, prefetch=4, timeout=5_000)
    published: list[float] = []

    def publish_later() -> None:
        time.sleep(0.3)
        published.append(time.monotonic())
        broker.enqueue(stamped(datetime.now(UTC), "pushed"))

    sender = threading.Thread(target=publish_later)
    sender.start()
    proxy = next_message(consumer, within=4.0)
    sender.join()
    assert proxy.args == ("pushed",)
    assert time.monotonic() - published[0] < 0.5  # pushed, not found by the 5 s inactivity timeout
    consumer.ack(proxy)
    consumer.close()


def test_the_head_is_read_without_taking_it_and_the_order_is_kept(broker: NamespacedRabbitmqBroker) -> None:
    assert broker.oldest_waiting_at(QUEUE) is None
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    broker.enqueue(stamped(first, "first"))
    broker.enqueue(stamped(first + timedelta(seconds=10), "second"))
    assert broker.oldest_waiting_at(QUEUE) == first
    assert broker.oldest_waiting_at(QUEUE) == first
    consumer = broker.consume(QUEUE, prefetch=4, timeout=1_000)
    taken = [next_message(consumer, within=3.0) for _ in range(2)]
    assert [proxy.args[0] for proxy in taken] == ["first", "second"]
    for proxy in taken:
        consumer.ack(proxy)
    consumer.close()
    assert broker.oldest_waiting_at(QUEUE) is None


def test_another_namespace_sees_none_of_it(broker: NamespacedRabbitmqBroker, rabbit_settings: Settings) -> None:
    broker.enqueue(stamped(datetime.now(UTC), "mine"))
    other = make_broker(rabbit_settings.model_copy(update={"dramatiq_namespace": f"{broker.namespace}-other"}))
    assert isinstance(other, NamespacedRabbitmqBroker)
    try:
        assert other.oldest_waiting_at(QUEUE) is None
    finally:
        other.delete_queues([QUEUE])
        other.close()
    assert broker.oldest_waiting_at(QUEUE) is not None


def test_a_lost_connection_is_replaced_on_the_next_publish(broker: NamespacedRabbitmqBroker) -> None:
    broker.connection.close()  # as a RabbitMQ restart or a dropped TCP connection leaves it
    broker.enqueue(stamped(datetime.now(UTC), "after"))
    assert broker.queue_depths([QUEUE])[QUEUE]["ready"] == 1


def test_a_consumer_whose_connection_drops_raises_connection_closed_and_its_message_comes_back(
    broker: NamespacedRabbitmqBroker,
) -> None:
    broker.enqueue(stamped(datetime.now(UTC), "unacked"))
    consumer: Any = broker.consume(QUEUE, prefetch=1, timeout=1_000)
    assert next_message(consumer, within=3.0).args == ("unacked",)
    consumer.connection.close()  # never acknowledged
    # Either way Dramatiq's consumer thread leaves its loop over the consumer and starts a new one.
    with pytest.raises((ConnectionClosed, StopIteration)):
        next(consumer)
    again = broker.consume(QUEUE, prefetch=1, timeout=1_000)
    proxy = next_message(again, within=3.0)
    assert proxy.args == ("unacked",)
    assert proxy.redelivered
    again.ack(proxy)
    again.close()


def test_a_broker_that_cannot_be_reached_fails_the_publish_at_once(rabbit_settings: Settings) -> None:
    down = rabbit_settings.model_copy(update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"})
    broker = make_broker(down)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed):
        broker.enqueue(stamped(datetime.now(UTC), "nowhere"))
    assert time.monotonic() - started < 5.0
    broker.close()


def test_nmc_status_counts_the_handler_queues_on_rabbitmq(rabbit_settings: Settings) -> None:
    broker = make_broker(rabbit_settings)
    assert isinstance(broker, NamespacedRabbitmqBroker)
    try:
        broker.enqueue(delivery_message("conversations", "d1", enqueued_at=datetime.now(UTC)))
        depths = rabbitmq_queue_depths(rabbit_settings)
        # Only queues that exist are reported; the status command declares nothing.
        assert depths == {"conversations": {"ready": 1, "unacked": None, "delayed": 0, "dead": 0, "consumers": 0}}
    finally:
        broker.delete_queues(["conversations"])
        broker.close()


def test_a_worker_side_process_with_rabbitmq_down_stops_with_one_line(rabbit_settings: Settings) -> None:
    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    env = os.environ | {
        "DATABASE_URL": rabbit_settings.database_url,
        "REDIS_URL": rabbit_settings.redis_url,
        "BROKER_URL": down,
    }
    for command in ("dispatcher", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "ops", command], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 1, done.stderr
        port = down.rsplit(":", 1)[1].split("/")[0]
        assert done.stderr == f"Error: cannot reach RabbitMQ at 127.0.0.1:{port} (connection refused)\n"
    findings = {finding.check: finding for finding in examine(rabbit_settings.model_copy(update={"broker_url": down}))}
    assert not findings["broker"].ok
    assert findings["broker"].detail.startswith("cannot reach RabbitMQ at 127.0.0.1:")
    assert "broker" not in {finding.check for finding in examine(rabbit_settings.model_copy(update={"broker_url": ""}))}


def test_a_queue_deleted_under_its_consumer_is_declared_again_when_the_consumer_restarts(
    broker: NamespacedRabbitmqBroker,
) -> None:
    consumer: Any = broker.consume(QUEUE, prefetch=1, timeout=500)
    other = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        other.channel().queue_delete(queue=broker.amqp_queue(QUEUE))
    finally:
        other.close()
    with pytest.raises((ConnectionClosed, StopIteration)):
        turns(consumer, 20)
    with contextlib.suppress(ConnectionClosed):  # as Dramatiq's consumer thread closes one
        consumer.close()
    if consumer.connection.is_open:
        consumer.connection.close()
    # As Dramatiq's consumer thread does after a connection error: a new consumer, on a queue declared again.
    again = broker.consume(QUEUE, prefetch=1, timeout=500)
    assert next(again) is None  # consuming (an empty queue), before any publish could have declared it again
    broker.enqueue(stamped(datetime.now(UTC), "back"))
    proxy = next_message(again, within=3.0)
    assert proxy.args == ("back",)
    again.ack(proxy)
    again.close()
