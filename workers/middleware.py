"""Cross-cutting worker concerns as Dramatiq middleware, so every actor stays a one-line adapter.

``DeliveryMiddleware`` claims the delivery (durable attempt count + lease) before the actor runs, skips messages
whose delivery is not ours to run (duplicates, already done), and routes failures to the retry schedule or the DLQ.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import SkipMessage

from db.metrics import COMMIT_TO_HANDLER, DELIVERIES, DELIVERY_RETRIES, HANDLER_DURATION
from domain.events.envelope import utcnow
from workers.delivery import Claim, DeliveryRunner

logger = logging.getLogger("nmc.worker")


class DeliveryMiddleware(dramatiq.Middleware):
    def __init__(self, runner: DeliveryRunner) -> None:
        self._runner = runner
        self._running: dict[str, tuple[Claim, float]] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        delivery_id = _delivery_id(message)
        if delivery_id is None:
            logger.error("dropping malformed delivery message %s", message.message_id)
            raise SkipMessage()
        claim = self._runner.claim(delivery_id)
        if claim is None:
            raise SkipMessage()
        COMMIT_TO_HANDLER.observe(max(0.0, (utcnow() - claim.event_created_at).total_seconds()))
        self._running[message.message_id] = (claim, time.perf_counter())

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        DELIVERIES.labels(handler="unknown", outcome="skipped").inc()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        claim, started = self._running.pop(message.message_id, (None, time.perf_counter()))
        handler = claim.handler if claim else "unknown"
        HANDLER_DURATION.labels(handler=handler).observe(time.perf_counter() - started)
        if exception is None:
            DELIVERIES.labels(handler=handler, outcome="done").inc()
            return
        delivery_id = _delivery_id(message)
        if delivery_id is None:
            return
        outcome = self._runner.fail(delivery_id, exception)
        DELIVERIES.labels(handler=handler, outcome="dead" if outcome.dead else "retry").inc()
        if not outcome.dead:
            DELIVERY_RETRIES.labels(handler=handler).inc()
        if outcome.dead:
            logger.error("delivery %s dead-lettered after %d attempts: %s", delivery_id, outcome.attempts, exception)
        else:
            logger.warning(
                "delivery %s failed (attempt %d), retry at %s: %s",
                delivery_id,
                outcome.attempts,
                outcome.next_attempt_at,
                exception,
            )


def _delivery_id(message: MessageProxy) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(message.args[0]))
    except (IndexError, ValueError):
        return None
