"""The one broker module: every Dramatiq actor is declared on the broker built here, and nothing else builds one.

``BROKER_URL`` chooses it: empty (or ``redis://``) is the Redis broker below, the local default; ``amqp://`` is
Dramatiq's RabbitMQ broker (workers/rabbitmq.py). Both answer what the dispatcher asks of a broker besides
enqueueing, ``oldest_waiting_at(queue)``; ``nmc status`` asks RabbitMQ for ``queue_depths`` and reads Redis's keys
itself.

Dramatiq's own Retries middleware is left out on purpose: attempt counts and retry schedules live in Postgres
(``outbox_deliveries``) so that a SIGKILLed worker or a Redis error while re-enqueuing cannot lose a retry.

Dramatiq's Redis consumer polls an empty queue with a growing sleep (up to ``worker_timeout``): a short timeout
gives low pick-up latency but burns CPU on every idle consumer thread. ``WakingRedisBroker`` keeps the timeout
long and instead pushes a wake-up token per enqueued message, on which an idle consumer blocks (BLPOP): an idle
worker costs nothing and still picks a message up within a millisecond or two.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage, ShutdownNotifications, TimeLimit

from db.settings import Settings
from workers.rabbitmq import NamespacedRabbitmqBroker

ACTOR_PREFIX = "deliver_"
# Enough tokens to wake every consumer thread that could take the work; more would only cause idle wake-ups.
MAX_WAKE_TOKENS = 64

# The message at the head of a queue (the oldest still waiting), read atomically: a consumer may pop it between two
# separate calls.
_HEAD_MESSAGE = """
local message_id = redis.call("lindex", KEYS[1], 0)
if not message_id then return false end
return redis.call("hget", KEYS[2], message_id)
"""


class WakingRedisBroker(RedisBroker):
    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        """Dramatiq's enqueue (its ``dispatch`` script, pinned dramatiq 2.2) and the wake-up token in ONE round trip:
        sent one after the other, the dispatcher waited on Redis twice per message and the consumer could wake only
        after the second, two more wake-ups of two processes on a box where each costs milliseconds under load."""
        if delay is not None:
            return super().enqueue(message, delay=delay)
        message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        self.emit_before("enqueue", message, delay)
        args = [
            "enqueue",
            current_millis(),
            message.queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            self._should_do_maintenance("enqueue"),
            self._max_unpack_size(),
            message.options["redis_message_id"],
            message.encode(),
        ]
        wake_key = self.wake_key(message.queue_name)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                # The script by its digest alone: a registered script would make the pipeline ask SCRIPT EXISTS first.
                pipe.evalsha(self.scripts["dispatch"].sha, 1, self.namespace, *args)
                pipe.rpush(wake_key, 1)
                pipe.ltrim(wake_key, -MAX_WAKE_TOKENS, -1)
                pipe.execute()
        except redis.exceptions.NoScriptError:
            # A Redis that has not seen the script (restarted, or flushed): Dramatiq's own call loads it. The token
            # already pushed only wakes a consumer once more.
            self.do_enqueue(message.queue_name, message.options["redis_message_id"], message.encode())
        self.emit_after("enqueue", message, delay)
        return message

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> _WakingConsumer:
        return _WakingConsumer(self, queue_name, prefetch, timeout)

    def oldest_waiting_at(self, queue_name: str) -> datetime | None:
        """When the oldest message still waiting in the queue was stamped; None when nothing waits.

        Dramatiq's Redis queues are FIFO (RPUSH, LPOP), so a message stamped after this one is still waiting too.
        """
        data = self.client.eval(
            _HEAD_MESSAGE, 2, f"{self.namespace}:{queue_name}", f"{self.namespace}:{queue_name}.msgs"
        )
        if not data:
            return None
        return datetime.fromtimestamp(Message.decode(data).message_timestamp / 1000, UTC)


class _WakingConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer (its ``__next__``, pinned dramatiq 2.2), blocking on wake-ups instead of sleeping.

    Every enqueue pushes a wake-up token, so once a fetch has found the queue empty (fewer messages than asked for)
    the consumer blocks on the tokens rather than fetching again: each fetch is a Lua call, and fetching into an
    empty queue after every message, then again after each short backoff, was most of an idle-ish worker's Redis
    traffic. The block lasts up to ``timeout`` (WORKER_IDLE_POLL_MS), the fallback for messages that come back to a
    queue without a token (Dramatiq requeueing a dead worker's messages). A full fetch fetches again at once.
    """

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self.wake_key = broker.wake_key(queue_name)
        self.drained = False

    def __next__(self) -> Any:
        try:
            while True:
                try:
                    data = self.message_cache.pop(0)
                    if data is None:
                        continue
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return dramatiq.broker.MessageProxy(message)
                except IndexError:
                    wanted = self.prefetch - self.outstanding_message_count
                    if wanted <= 0:
                        # Busy up to the prefetch limit: wait briefly for our own messages to finish.
                        time.sleep(0.01)
                        return None
                    if self.drained:
                        self.drained = False
                        self.broker.client.blpop([self.wake_key], timeout=self.timeout / 1000)
                        return None
                    self.message_cache = self.broker.do_fetch(self.queue_name, wanted)
                    self.drained = len(self.message_cache) < wanted
                    if not self.message_cache:
                        return None
        except redis.ConnectionError as error:
            raise ConnectionClosed(error) from None


QueueBroker = WakingRedisBroker | NamespacedRabbitmqBroker


def make_broker(settings: Settings, extra_middleware: Iterable[dramatiq.Middleware] = ()) -> QueueBroker:
    # The time limit stays inside the delivery lease, so a handler is stopped before the redriver would consider
    # its worker lost.
    time_limit_ms = max(1000, (settings.delivery_lease_seconds - 5) * 1000)
    middleware: list[dramatiq.Middleware] = [
        TimeLimit(time_limit=time_limit_ms),
        ShutdownNotifications(),
        CurrentMessage(),
        *extra_middleware,
    ]
    if settings.broker_is_rabbitmq:
        return NamespacedRabbitmqBroker(
            url=settings.broker_url, namespace=settings.dramatiq_namespace, middleware=middleware
        )
    return WakingRedisBroker(
        url=settings.broker_url or settings.redis_url, namespace=settings.dramatiq_namespace, middleware=middleware
    )


def actor_name(queue: str) -> str:
    return f"{ACTOR_PREFIX}{queue}"


def delivery_message(queue: str, *delivery_ids: str, enqueued_at: datetime) -> dramatiq.Message[None]:
    """One message for a batch of deliveries of one queue (comma-separated ids), stamped with the time their
    ``outbox_deliveries.enqueued_at`` records, so the redriver can tell from the queue's head what is still waiting."""
    return dramatiq.Message(
        queue_name=queue,
        actor_name=actor_name(queue),
        args=(",".join(delivery_ids),),
        kwargs={},
        options={},
        message_timestamp=int(enqueued_at.timestamp() * 1000),
    )
