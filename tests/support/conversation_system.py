"""One process's whole pipeline for the conversation tests: the real registry, Postgres, and the sandbox over HTTP.

Test modules import ``system`` (and ``world``, ``sandbox_key_path``, which it stands on) by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.settings import Settings
from domain.events import outbox
from domain.events.catalog import CallMissed, MessageReceived
from domain.events.envelope import Envelope
from ops.sandbox.client import SandboxClient
from ops.tenants import DEMO_NUMBER, seed_demo
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.bootstrap import build_dispatcher, build_worker_runtime
from workers.delivery import DeliveryRunner
from workers.dispatcher import Dispatcher


@dataclass
class System:
    settings: Settings
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    runner: DeliveryRunner
    world: World
    tenant_id: uuid.UUID

    def drain(self, *, only: str | None = None, rounds: int = 20) -> list[str]:
        """Run every pending delivery (or only those of handler ``only``); returns the outcomes."""
        return drain(self.dispatcher, self.runner, self.sessions, only=only, rounds=rounds)

    def missed_call(self, caller: str) -> Envelope:
        """Append a CallMissed as the ingress would (a chain of its own); its envelope."""
        with transaction(self.sessions) as session:
            return outbox.append(
                session,
                CallMissed(
                    call_sid=f"CA{uuid.uuid4().hex}",
                    caller=caller,
                    called=DEMO_NUMBER,
                    dial_status="no-answer",
                    missed_at=datetime.now(UTC),
                ),
                tenant_id=self.tenant_id,
            )

    def inbound(self, caller: str, body: str) -> None:
        with transaction(self.sessions) as session:
            outbox.append(
                session,
                MessageReceived(
                    message_sid=f"SM{uuid.uuid4().hex}",
                    from_number=caller,
                    to_number=DEMO_NUMBER,
                    body=body,
                    num_media=0,
                    media_urls=(),
                    received_at=datetime.now(UTC),
                ),
                tenant_id=self.tenant_id,
            )

    def sent_to(self, caller: str) -> list[dict[str, Any]]:
        return SandboxClient(self.world.url, http=self.world.http).messages(to=caller)

    def row(self, query: str, **params: Any) -> Any:
        with self.sessions() as session:
            return session.execute(text(query), params).first()

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(text(query), params).all())


@pytest.fixture
def system(settings: Settings, world: World) -> Iterator[System]:  # noqa: F811 - the fixture imported above
    wired = settings.model_copy(
        update={
            "twilio_api_base_url": world.url,
            "public_base_url": world.ingress.base_url,
            "twilio_account_sid": world.settings.twilio_account_sid,
            "twilio_auth_token": world.settings.twilio_auth_token,
        }
    )
    runtime, runner = build_worker_runtime(wired)
    with transaction(runtime.sessions) as session:
        tenant_id = uuid.UUID(seed_demo(session, wired)["id"])
    yield System(wired, runtime.sessions, build_dispatcher(runtime), runner, world, tenant_id)
    runtime.broker.close()
    runtime.engine.dispose()


def caller() -> str:
    return f"+1617555{uuid.uuid4().int % 10_000:04d}"
