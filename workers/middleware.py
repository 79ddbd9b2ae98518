"""Cross-cutting worker concerns as Dramatiq middleware, so every actor stays a one-line adapter.

``DeliveryMiddleware`` claims the message's deliveries (durable attempt count + lease) before the actor runs, skips
a message none of whose deliveries are ours to run (duplicates, already done), records metrics, and, if the actor
dies as a whole (time limit, lost database), settles whatever it had not finished through the retry schedule or DLQ.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage, SkipMessage

from db.metrics import COMMIT_TO_HANDLER, DELIVERIES, DELIVERY_RETRIES, HANDLER_DURATION
from domain.events.envelope import utcnow
from workers.delivery import Claim, DeliveryResult, DeliveryRunner

logger = logging.getLogger("nmc.worker")
CLAIMS_OPTION = "nmc_claims"
RESULTS_OPTION = "nmc_results"


def delivery_ids(message: dramatiq.Message[Any] | MessageProxy) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(part) for part in str(message.args[0]).split(",")]
    except (IndexError, ValueError):
        return None


def claims_of(message: dramatiq.Message[Any] | MessageProxy | None) -> list[Claim]:
    claims: list[Claim] = [] if message is None else message.options.get(CLAIMS_OPTION, [])
    return claims


def current_claims() -> list[Claim]:
    """What the middleware claimed for the message this worker thread is running."""
    return claims_of(CurrentMessage.get_current_message())


def report_results(results: list[DeliveryResult]) -> None:
    """Hand the per-delivery outcomes back to the middleware (an actor's return value would need Results)."""
    message = CurrentMessage.get_current_message()
    if message is not None:
        message.options[RESULTS_OPTION] = results


class DeliveryMiddleware(dramatiq.Middleware):
    def __init__(self, runner: DeliveryRunner) -> None:
        self._runner = runner

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        ids = delivery_ids(message)
        if ids is None:
            logger.error("dropping malformed delivery message %s", message.message_id)
            raise SkipMessage()
        claims = self._runner.claim_many(ids)
        if not claims:
            raise SkipMessage()
        now = utcnow()
        for claim in claims:
            COMMIT_TO_HANDLER.observe(max(0.0, (now - claim.event_created_at).total_seconds()))
        # The claims travel with the message (in this process only) to the actor, via CurrentMessage.
        message.options[CLAIMS_OPTION] = claims

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
        claims = claims_of(message)
        message.options.pop(CLAIMS_OPTION, None)
        results: list[DeliveryResult] = message.options.pop(RESULTS_OPTION, [])
        if exception is not None:
            # The batch died as a whole: settle each delivery still processing (finished ones are left alone).
            for claim in claims:
                outcome = self._runner.fail(claim.delivery_id, exception)
                DELIVERIES.labels(handler=claim.handler, outcome="dead" if outcome.dead else "retry").inc()
            logger.error("delivery batch %s failed: %s", message.message_id, exception)
            return
        for delivery in results:
            HANDLER_DURATION.labels(handler=delivery.handler).observe(delivery.seconds)
            DELIVERIES.labels(handler=delivery.handler, outcome=delivery.outcome).inc()
            if delivery.outcome == "retry":
                DELIVERY_RETRIES.labels(handler=delivery.handler).inc()
