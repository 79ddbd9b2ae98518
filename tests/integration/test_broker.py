"""The waking Redis consumer on the real Redis: an idle consumer blocks on wake-up tokens instead of polling the
queue, picks a message up as soon as it is enqueued, and still finds one that came back without a token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from db.settings import Settings
from workers.broker import WakingRedisBroker, make_broker

QUEUE = "wake_test"


@pytest.fixture
def broker(settings: Settings) -> Iterator[WakingRedisBroker]:
    broker = make_broker(settings)
    broker.declare_queue(QUEUE)
    yield broker
    broker.close()


def message(body: str) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=QUEUE, actor_name="deliver_wake_test", args=(body,), kwargs={}, options={})


def next_message(consumer: Any, within: float) -> Any:
    """Drive the consumer as Dramatiq's consumer thread does (a None is a turn with nothing to hand out)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        proxy = next(consumer)
        if proxy is not None:
            return proxy
    raise AssertionError(f"no message within {within} s")


def test_an_idle_consumer_blocks_on_wake_ups_and_takes_a_message_as_soon_as_it_is_enqueued(
    broker: WakingRedisBroker,
) -> None:
    consumer = broker.consume(QUEUE, prefetch=4, timeout=5_000)
    fetches = 0
    fetch = broker.do_fetch

    def counting_fetch(*args: Any) -> Any:
        nonlocal fetches
        fetches += 1
        return fetch(*args)

    broker.do_fetch = counting_fetch  # type: ignore[method-assign]
    assert next(consumer) is None  # one fetch finds the queue empty
    enqueued_at: list[float] = []

    def enqueue_later() -> None:
        time.sleep(0.3)
        enqueued_at.append(time.monotonic())
        broker.enqueue(message("hello"))

    sender = threading.Thread(target=enqueue_later)
    sender.start()
    proxy = next_message(consumer, within=4.0)
    sender.join()
    assert proxy.args == ("hello",)
    # Woken by the enqueue, not by the 5 s poll; and no fetches into the empty queue while it waited.
    assert time.monotonic() - enqueued_at[0] < 1.0
    assert fetches == 2
    consumer.ack(proxy)
    consumer.close()


def test_a_message_that_comes_back_without_a_token_is_found_by_the_idle_poll(broker: WakingRedisBroker) -> None:
    consumer = broker.consume(QUEUE, prefetch=4, timeout=300)
    assert next(consumer) is None
    # Dramatiq's own enqueue pushes no wake-up token, like its requeue of a dead worker's messages.
    RedisBroker.enqueue(broker, message("requeued"))
    proxy = next_message(consumer, within=3.0)
    assert proxy.args == ("requeued",)
    consumer.ack(proxy)
    consumer.close()


def test_a_backlog_is_fetched_batch_after_batch_without_waiting_for_tokens(broker: WakingRedisBroker) -> None:
    for index in range(10):
        RedisBroker.enqueue(broker, message(str(index)))  # no tokens at all
    consumer = broker.consume(QUEUE, prefetch=4, timeout=5_000)
    started = time.monotonic()
    taken = []
    for _ in range(10):
        proxy = next_message(consumer, within=4.0)
        taken.append(proxy.args[0])
        consumer.ack(proxy)
    assert taken == [str(index) for index in range(10)]
    assert time.monotonic() - started < 2.0  # full fetches fetch again at once; only a short one waits
    consumer.close()


def test_a_message_and_its_wake_up_token_are_written_in_one_round_trip(broker: WakingRedisBroker) -> None:
    sent: list[int] = []
    execute = type(broker.client.pipeline()).execute

    def counting_execute(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(pipe.command_stack))
        return execute(pipe, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(broker.client.pipeline()), "execute", counting_execute)
        enqueued = broker.enqueue(message("one"))
    assert sent == [3]  # the dispatch script, the token and its trim, in one pipeline
    assert broker.client.llen(broker.wake_key(QUEUE)) == 1
    consumer = broker.consume(QUEUE, prefetch=1, timeout=1_000)
    proxy = next_message(consumer, within=2)
    assert proxy.message_id == enqueued.message_id
    assert proxy.args == ("one",)


def test_a_redis_that_has_not_seen_the_enqueue_script_still_gets_the_message(broker: WakingRedisBroker) -> None:
    # As after a Redis restart: the digest the broker sends is unknown to the server.
    broker.scripts["dispatch"].sha = "0" * 40
    enqueued = broker.enqueue(message("after a restart"))
    consumer = broker.consume(QUEUE, prefetch=1, timeout=1_000)
    proxy = next_message(consumer, within=2)
    assert proxy.message_id == enqueued.message_id
    assert broker.scripts["dispatch"].sha != "0" * 40  # loaded again: the next enqueue is one round trip
