"""The appointment lifecycle's test system: one process's real registry and pipeline on a controllable clock, the
sandbox over HTTP, the demo tenant, and direct bookings (as staff make them). Test modules import ``life`` (and
``world``, ``sandbox_key_path``, which it stands on) by name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.composition import lifecycle
from domain.conversations.ports import SendFailed
from domain.events import outbox
from domain.events.catalog import CallAnswered, CallMissed, MessageReceived
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from ops.sandbox.client import SandboxClient
from ops.tenants import DEMO_NUMBER, seed_demo
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.gated_sms import GatedSmsSender
from workers.adapters.twilio_gateway import TwilioGateway
from workers.bootstrap import build_dispatcher, build_worker_runtime

# A retrying delivery made due now (its backoff skipped), as the redriver would find it later.
RETRY_NOW = text("UPDATE outbox_deliveries SET status = 'enqueued', next_attempt_at = now() WHERE status = 'retrying'")
# 10 am in Boston (the callers' 617 numbers), a Monday: inside every quiet-hours window.
T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class DiesAfterSending:
    """The provider takes the first message, then the worker 'dies' before its transaction commits."""

    def __init__(self, real: GatedSmsSender) -> None:
        self.real = real
        self.died = False

    def send(self, decision: Any, **kwargs: Any) -> Any:
        accepted = self.real.send(decision, **kwargs)
        if not self.died:
            self.died = True
            raise SendFailed(None, "worker killed after the provider accepted", retryable=True)
        return accepted

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Lifecycle:
    def __init__(self, settings: Settings, world: World, *, dies: bool = False) -> None:  # noqa: F811
        self.clock = Clock(T0)
        wired = settings.model_copy(
            update={
                "twilio_api_base_url": world.url,
                "public_base_url": world.ingress.base_url,
                "twilio_account_sid": world.settings.twilio_account_sid,
                "twilio_auth_token": world.settings.twilio_auth_token,
            }
        )
        deps: dict[str, object] = {}
        if dies:
            deps["sms"] = DiesAfterSending(GatedSmsSender(TwilioGateway(wired), wired))
        self.runtime, self.runner = build_worker_runtime(wired, clock=self.clock, dependencies=deps)
        self.sessions: sessionmaker[Session] = self.runtime.sessions
        self.dispatcher = build_dispatcher(self.runtime, clock=self.clock)
        self.world = world
        with transaction(self.sessions) as session:
            demo = seed_demo(session, wired)
        self.tenant_id = uuid.UUID(demo["id"])
        self.resource_id = uuid.UUID(demo["resources"][0]["id"])
        self.service_item_id = uuid.UUID(demo["service_items"][0]["id"])

    def book(self, caller: str, starts_at: datetime, *, now: datetime = T0) -> uuid.UUID:
        with transaction(self.sessions) as session:
            booked = scheduling.book_slot(
                session,
                scheduling.SlotRequest(
                    self.resource_id, self.service_item_id, starts_at, starts_at + timedelta(hours=1), caller
                ),
                tenant_id=self.tenant_id,
                price_cents=10000,
                currency="USD",
                now=now,
                events=RootSink(session),
                enforce_hours=False,
            )
        return booked.id

    def reminders_job(self, now: datetime) -> int:
        self.clock.now = now
        return lifecycle.run_in_batches(self.sessions, lifecycle.send_due_reminders, now=now)

    def drain(self) -> list[str]:
        return drain(self.dispatcher, self.runner, self.sessions)

    def sent_to(self, caller: str) -> list[dict[str, Any]]:
        return SandboxClient(self.world.url, http=self.world.http).messages(to=caller)

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(text(query), params).all())

    def close(self) -> None:
        self.runtime.broker.close()
        self.runtime.engine.dispose()


@pytest.fixture
def life(settings: Settings, world: World) -> Iterator[Lifecycle]:  # noqa: F811
    system = Lifecycle(settings, world)
    yield system
    system.close()


def caller() -> str:
    return f"+1617555{uuid.uuid4().int % 10_000:04d}"


def reminders_sent(life: Lifecycle, number: str) -> list[str]:
    return [m["body"] for m in life.sent_to(number) if m["body"].startswith("Reminder")]


def missed_call(life: Lifecycle, number: str) -> None:
    with transaction(life.sessions) as session:
        outbox.append(
            session,
            CallMissed(call_sid=f"CA{uuid.uuid4().hex}", caller=number, called=DEMO_NUMBER, dial_status="no-answer",
                       missed_at=life.clock.now),
            tenant_id=life.tenant_id,
        )  # fmt: skip
    life.drain()


def call_answered(life: Lifecycle, number: str, direction: Literal["inbound", "outbound"]) -> None:
    """As the ingress records a call a person answered: ``outbound`` a staff call back through the Twilio number."""
    with transaction(life.sessions) as session:
        outbox.append(
            session,
            CallAnswered(call_sid=f"CA{uuid.uuid4().hex}", direction=direction, customer_phone=number,
                         business_number=DEMO_NUMBER, answered_at=life.clock.now),
            tenant_id=life.tenant_id,
        )  # fmt: skip
    life.drain()


def text_in(life: Lifecycle, number: str, body: str) -> None:
    with transaction(life.sessions) as session:
        outbox.append(
            session,
            MessageReceived(message_sid=f"SM{uuid.uuid4().hex}", from_number=number, to_number=DEMO_NUMBER, body=body,
                            num_media=0, media_urls=(), received_at=life.clock.now),
            tenant_id=life.tenant_id,
        )  # fmt: skip
    life.drain()
