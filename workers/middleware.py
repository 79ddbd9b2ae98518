"""Cross-cutting worker concerns as Dramatiq middleware, so every actor stays a one-line adapter.

``DeliveryMiddleware`` claims the delivery (durable attempt count + lease) before the actor runs, skips messages
whose delivery is not ours to run (duplicates, already done), and routes failures to the retry schedule or the DLQ.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import dramatiq
from dramatiq.middleware import SkipMessage

from workers.delivery import DeliveryRunner

logger = logging.getLogger("nmc.worker")


class DeliveryMiddleware(dramatiq.Middleware):
    def __init__(self, runner: DeliveryRunner) -> None:
        self._runner = runner

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
        delivery_id = _delivery_id(message)
        if delivery_id is None:
            logger.error("dropping malformed delivery message %s", message.message_id)
            raise SkipMessage()
        if self._runner.claim(delivery_id) is None:
            raise SkipMessage()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message[Any],
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        delivery_id = _delivery_id(message)
        if delivery_id is None:
            return
        outcome = self._runner.fail(delivery_id, exception)
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


def _delivery_id(message: dramatiq.Message[Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(message.args[0]))
    except (IndexError, ValueError):
        return None
