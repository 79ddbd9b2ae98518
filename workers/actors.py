"""One actor per module queue; each is a one-line adapter from a Dramatiq message to the delivery runner."""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq

from workers.broker import actor_name
from workers.delivery import DeliveryRunner
from workers.middleware import current_claims, report_results


def declare_actors(
    broker: dramatiq.Broker, queues: Iterable[str], runner: DeliveryRunner
) -> list[dramatiq.Actor[..., None]]:
    def deliver(delivery_ids: str) -> None:
        # DeliveryMiddleware has claimed the deliveries (a comma-separated batch) this message carries.
        report_results(runner.run_claimed(current_claims()))

    return [
        dramatiq.actor(actor_name=actor_name(queue), queue_name=queue, broker=broker)(deliver)
        for queue in sorted(queues)
    ]
