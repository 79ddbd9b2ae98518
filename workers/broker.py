"""The one broker module: every Dramatiq actor is declared on the broker built here, and nothing else builds one.

Dramatiq's own Retries middleware is left out on purpose: attempt counts and retry schedules live in Postgres
(``outbox_deliveries``) so that a SIGKILLed worker or a Redis error while re-enqueuing cannot lose a retry.
"""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, ShutdownNotifications, TimeLimit

from db.settings import Settings

ACTOR_PREFIX = "deliver_"


def make_broker(settings: Settings, extra_middleware: Iterable[dramatiq.Middleware] = ()) -> RedisBroker:
    # The time limit stays inside the delivery lease, so a handler is stopped before the redriver would consider
    # its worker lost.
    time_limit_ms = max(1000, (settings.delivery_lease_seconds - 5) * 1000)
    middleware: list[dramatiq.Middleware] = [
        TimeLimit(time_limit=time_limit_ms),
        ShutdownNotifications(),
        CurrentMessage(),
        *extra_middleware,
    ]
    broker = RedisBroker(url=settings.redis_url, namespace=settings.dramatiq_namespace, middleware=middleware)
    return broker


def actor_name(queue: str) -> str:
    return f"{ACTOR_PREFIX}{queue}"


def delivery_message(queue: str, delivery_id: str) -> dramatiq.Message[None]:
    return dramatiq.Message(queue_name=queue, actor_name=actor_name(queue), args=(delivery_id,), kwargs={}, options={})
