"""One bootstrap wires every worker-side dependency from Settings: engine, registry, broker, runner, dispatcher."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import dramatiq
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.settings import Settings
from domain.events.envelope import utcnow
from workers.actors import declare_actors
from workers.broker import QueueBroker, make_broker
from workers.delivery import DeliveryRunner
from workers.dispatcher import Dispatcher
from workers.middleware import DeliveryMiddleware
from workers.registry import DOMAIN_HANDLER_MODULES, Registry, build_registry, load_subscriptions


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry
    broker: QueueBroker


def handler_modules(settings: Settings) -> tuple[str, ...]:
    return settings.handler_modules or DOMAIN_HANDLER_MODULES


def default_dependencies(
    settings: Settings, clock: Callable[[], datetime], sessions: sessionmaker[Session]
) -> dict[str, object]:
    """Everything a handler may ask for by keyword; each handler receives only what its signature names."""
    from domain.composition.booking_tools import BookingToolsFactory
    from domain.composition.conversation_ports import AppointmentsAdapter, InboundKeywordsAdapter, SendGateAdapter
    from domain.composition.lifecycle import AppointmentRepliesAdapter, AppointmentTextsAdapter, SendWindowAdapter
    from domain.composition.tenant_profile import TenantDirectoryAdapter
    from domain.conversations.engine.factory import make_engine as make_conversation_engine
    from domain.conversations.store import PostgresConversationStore
    from domain.scheduling.credentials import CredentialBox
    from workers.adapters.calendar_writes import build_calendar_writers
    from workers.adapters.calendars import build_calendar_clients
    from workers.adapters.call_log import TwilioCallLog
    from workers.adapters.gated_sms import GatedSmsSender
    from workers.adapters.oauth_tokens import build_token_refresher
    from workers.adapters.twilio_gateway import TwilioGateway

    gateway = TwilioGateway(settings)
    return {
        "settings": settings,
        "clock": clock,
        "sessions": sessions,
        "directory": TenantDirectoryAdapter(),
        "gate": SendGateAdapter(),
        "send_window": SendWindowAdapter(),
        "appointment_texts": AppointmentTextsAdapter(),
        "appointment_replies": AppointmentRepliesAdapter(settings.hold_ttl_minutes),
        "sms": GatedSmsSender(gateway, settings),
        "call_log": TwilioCallLog(gateway),
        "keywords": InboundKeywordsAdapter(),
        "appointments": AppointmentsAdapter(),
        "tools": BookingToolsFactory(settings),
        "engine": make_conversation_engine(settings),
        # The send intent commits in its own transaction, before the provider is called.
        "conversation_store": functools.partial(PostgresConversationStore, intents=sessions),
        "calendars": build_calendar_clients(settings),
        "calendar_writer": build_calendar_writers(settings),
        "credential_box": CredentialBox(settings.credentials_key),
        "token_refresher": build_token_refresher(settings),
    }


def build_runtime(
    settings: Settings,
    *,
    role: str,
    extra_middleware: Iterable[dramatiq.Middleware] = (),
    dependencies: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = utcnow,
    pool_size: int = 5,
) -> Runtime:
    engine = make_engine(settings, pool_size=pool_size, max_overflow=pool_size, application_name=f"nmc-{role}")
    sessions = make_session_factory(engine)
    deps = dict(default_dependencies(settings, clock, sessions))
    deps.update(dependencies or {})
    registry = build_registry(load_subscriptions(handler_modules(settings)), deps)
    broker = make_broker(settings, extra_middleware)
    return Runtime(settings, engine, sessions, registry, broker)


def build_dispatcher(
    runtime: Runtime, *, clock: Callable[[], datetime] = utcnow, rng: Callable[[], float] = random.random
) -> Dispatcher:
    settings = runtime.settings
    return Dispatcher(
        runtime.engine,
        runtime.sessions,
        runtime.registry,
        runtime.broker,
        batch_size=settings.outbox_batch_size,
        max_attempts=settings.delivery_max_attempts,
        redrive_after_seconds=settings.delivery_redrive_after_seconds,
        delivery_batch_size=settings.delivery_batch_size,
        oldest_waiting_at=runtime.broker.oldest_waiting_at,
        clock=clock,
        rng=rng,
    )


def build_worker_runtime(
    settings: Settings,
    *,
    queues: Iterable[str] | None = None,
    dependencies: Mapping[str, object] | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: Callable[[], float] = random.random,
) -> tuple[Runtime, DeliveryRunner]:
    runtime = build_runtime(
        settings, role="worker", dependencies=dependencies, clock=clock, pool_size=settings.worker_threads + 2
    )
    runner = DeliveryRunner(
        runtime.engine,
        runtime.sessions,
        runtime.registry,
        max_attempts=settings.delivery_max_attempts,
        lease_seconds=settings.delivery_lease_seconds,
        clock=clock,
        rng=rng,
    )
    runtime.broker.add_middleware(DeliveryMiddleware(runner))
    wanted = set(queues) if queues else runtime.registry.queues
    declare_actors(runtime.broker, wanted & runtime.registry.queues, runner)
    return runtime, runner
