"""One actor per module queue; each is a one-line adapter from a Dramatiq message to the delivery runner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import dramatiq

from workers.broker import actor_name
from workers.delivery import DeliveryRunner


def declare_actors(
    broker: dramatiq.Broker, queues: Iterable[str], runner: DeliveryRunner
) -> list[dramatiq.Actor[..., None]]:
    def deliver(delivery_id: str) -> None:
        runner.process(uuid.UUID(delivery_id))

    return [
        dramatiq.actor(actor_name=actor_name(queue), queue_name=queue, broker=broker)(deliver)
        for queue in sorted(queues)
    ]
