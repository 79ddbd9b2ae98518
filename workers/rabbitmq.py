"""Dramatiq's RabbitMQ broker, namespaced and able to tell the dispatcher what still waits in a queue.

RabbitMQ pushes: a consumer is a ``basic_consume`` with a prefetch window, so an idle worker costs nothing and picks
a message up as soon as it is published, without the wake-up tokens the Redis broker needs.

What changes against Dramatiq's own ``RabbitmqBroker`` (overriding only its public methods):

- Every AMQP queue is ``<DRAMATIQ_NAMESPACE>.<queue>`` (and ``….XQ`` for dead-lettered messages), so systems and
  tests sharing one RabbitMQ do not consume each other's messages, as the namespace separates them on Redis.
- No delay queues: retries are scheduled in Postgres (``outbox_deliveries.next_attempt_at``), never in the broker,
  so a worker does not hold a second consumer connection per queue for messages that never come.
- Queues are durable and messages persistent (``delivery_mode`` 2), stamped with the time their deliveries' row
  records (``message_timestamp``), which is what :meth:`oldest_waiting_at` reads back.
- A publish that fails on a dead connection reconnects and tries once more, then raises ``ConnectionClosed``: the
  deliveries stay ``enqueued`` in Postgres and the redriver re-sends them. Dramatiq's six attempts in a row would
  only hold the dispatcher against a node that is down.

A consumer that loses its connection raises ``ConnectionClosed``; Dramatiq's consumer thread reconnects every few
seconds, and RabbitMQ requeues whatever that connection had not acknowledged (the claims in Postgres make a second
delivery of it a no-op).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dramatiq
import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import xq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

_AMQP_ERRORS = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError)
PUBLISH_ATTEMPTS = 2


class NamespacedRabbitmqBroker(RabbitmqBroker):
    def __init__(self, *, url: str, namespace: str, middleware: list[dramatiq.Middleware]) -> None:
        super().__init__(url=url, middleware=middleware, confirm_delivery=True)
        self.namespace = namespace

    def amqp_queue(self, queue_name: str) -> str:
        return f"{self.namespace}.{queue_name}"

    def declare_queue(self, queue_name: str, *, ensure: bool = False) -> None:
        if queue_name not in self.queues:
            self.emit_before("declare_queue", queue_name)
            self.queues.add(queue_name)
            self.queues_pending.add(queue_name)
            self.emit_after("declare_queue", queue_name)
        if ensure and queue_name in self.queues_pending:
            self._with_channel(lambda channel: self._declare(channel, queue_name))
            self.queues_pending.discard(queue_name)

    def _declare(self, channel: Any, queue_name: str) -> None:
        name = self.amqp_queue(queue_name)
        arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(name)}
        channel.queue_declare(queue=name, durable=True, arguments=arguments)
        channel.queue_declare(queue=xq_name(name), durable=True, arguments={"x-message-ttl": DEAD_MESSAGE_TTL})

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> dramatiq.Consumer:
        # Dramatiq's consumer marks a queue that vanished under it (404) by the AMQP name it consumed.
        if self.amqp_queue(queue_name) in self.queues_pending:
            self.queues_pending.discard(self.amqp_queue(queue_name))
            self.queues_pending.add(queue_name)
        self.declare_queue(queue_name, ensure=True)
        consumer: dramatiq.Consumer = self.consumer_class(self, self.amqp_queue(queue_name), prefetch, timeout)
        return consumer

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        if delay is not None:
            raise ValueError("retries are scheduled in Postgres; this broker has no delay queues")
        queue_name = message.queue_name
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, timestamp=message.message_timestamp // 1000
        )
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                self.declare_queue(queue_name, ensure=True)
                self.emit_before("enqueue", message, None)
                # With publisher confirms on, this returns once RabbitMQ has taken the message (mandatory: routed to
                # the queue, else UnroutableError), so a return means it is RabbitMQ's to keep.
                self.channel.basic_publish(
                    exchange="",
                    routing_key=self.amqp_queue(queue_name),
                    body=message.encode(),
                    properties=properties,
                    mandatory=True,
                )
                self.emit_after("enqueue", message, None)
                return message
            except _AMQP_ERRORS as error:
                del self.connection
                if isinstance(error, pika.exceptions.UnroutableError):
                    self.queues_pending.add(queue_name)  # deleted under us: declare it again
                if attempt == PUBLISH_ATTEMPTS:
                    raise ConnectionClosed(error) from None
        raise AssertionError("unreachable")

    def oldest_waiting_at(self, queue_name: str) -> datetime | None:
        """When the message at the head of the queue was stamped; None when nothing waits.

        AMQP has no peek: the head is taken with ``basic_get`` and handed straight back (``basic_nack`` with
        requeue, which RabbitMQ puts back at its position). A message is "ready" only while every consumer's
        prefetch window is full, so the one round trip this costs on an empty queue is the usual case. Messages
        prefetched by consumers are not waiting, as on Redis, where a fetched message leaves the queue's list.
        """

        def head(channel: Any) -> bytes | None:
            method, _, body = channel.basic_get(self.amqp_queue(queue_name), auto_ack=False)
            if method is None:
                return None
            channel.basic_nack(method.delivery_tag, requeue=True)
            return bytes(body)

        self.declare_queue(queue_name, ensure=True)
        data = self._with_channel(head)
        if data is None:
            return None
        return datetime.fromtimestamp(Message.decode(data).message_timestamp / 1000, UTC)

    def queue_depths(self, queue_names: list[str]) -> dict[str, dict[str, int | None]]:
        """Per queue: ready messages, dead-lettered ones, and consumers. How many are in flight (delivered, not yet
        acknowledged) AMQP does not say; it is None, where the Redis broker gives a count."""

        def depths(channel: Any) -> dict[str, dict[str, int | None]]:
            found: dict[str, dict[str, int | None]] = {}
            for queue_name in queue_names:
                name = self.amqp_queue(queue_name)
                try:
                    ready = channel.queue_declare(queue=name, passive=True).method
                    dead = channel.queue_declare(queue=xq_name(name), passive=True).method
                except pika.exceptions.ChannelClosedByBroker as error:
                    if error.reply_code != 404:
                        raise
                    # Not declared yet. A 404 closes the channel: the next queue gets a fresh one.
                    del self.channel
                    channel = self.channel
                    continue
                found[queue_name] = {
                    "ready": ready.message_count,
                    "unacked": None,
                    "delayed": 0,
                    "dead": dead.message_count,
                    "consumers": ready.consumer_count,
                }
            return found

        return self._with_channel(depths)

    def delete_queues(self, queue_names: list[str]) -> None:
        """Delete the namespace's AMQP queues for these queue names (a test or a bench cleaning up after itself)."""

        def delete(channel: Any) -> None:
            for queue_name in queue_names:
                name = self.amqp_queue(queue_name)
                channel.queue_delete(queue=name)
                channel.queue_delete(queue=xq_name(name))
                self.queues_pending.add(queue_name)

        self._with_channel(delete)

    def _with_channel(self, call: Any) -> Any:
        try:
            return call(self.channel)
        except _AMQP_ERRORS as error:
            del self.connection
            raise ConnectionClosed(error) from None
