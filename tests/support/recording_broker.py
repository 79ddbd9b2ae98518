"""A dispatcher whose broker only records what it would have sent, for tests that run the deliveries themselves."""

from __future__ import annotations

import uuid

import dramatiq
from dramatiq.brokers.stub import StubBroker

from workers.bootstrap import Runtime
from workers.dispatcher import Dispatcher


class RecordingBroker(StubBroker):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[list[uuid.UUID]] = []  # each message's delivery ids, in the message's order

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:  # type: ignore[type-arg]
        self.sent.append([uuid.UUID(part) for part in message.args[0].split(",")])
        return message


def recording_dispatcher(runtime: Runtime, broker: RecordingBroker, *, delivery_batch_size: int) -> Dispatcher:
    return Dispatcher(
        runtime.engine,
        runtime.sessions,
        runtime.registry,
        broker,
        batch_size=500,
        max_attempts=6,
        redrive_after_seconds=3600,
        delivery_batch_size=delivery_batch_size,
    )
