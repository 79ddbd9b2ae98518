"""The one registry: which handlers are subscribed to which event, bound to their dependencies.

Subscriptions are declared beside the handlers (``domain/<module>/handlers.py``); this module collects them and
injects dependencies by keyword, the way a cosmicpython bootstrap does.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from db.settings import SettingsError
from domain.events.handling import HandlerContext, Subscription, Subscriptions

# Every domain module that handles events (catalog handles none: it only answers calls and emits).
DOMAIN_HANDLER_MODULES = (
    "domain.identity.handlers",
    "domain.conversations.handlers",
    "domain.scheduling.handlers",
    "domain.compliance.handlers",
    "domain.billing.handlers",
    "domain.reporting.handlers",
)


class RegistryError(Exception):
    pass


class HandlerModulesError(SettingsError):
    """``HANDLER_MODULES`` names something that is not a handler module: the process must not start without it."""


@dataclass(frozen=True)
class BoundHandler:
    name: str
    queue: str
    event_name: str
    call: Callable[[Any, HandlerContext], None]
    db_only: bool = False


class Registry:
    def __init__(self, handlers: Iterable[BoundHandler]) -> None:
        self._by_event: dict[str, list[BoundHandler]] = defaultdict(list)
        self._by_name: dict[str, BoundHandler] = {}
        for handler in handlers:
            if handler.name in self._by_name and self._by_name[handler.name].event_name == handler.event_name:
                raise RegistryError(f"handler {handler.name} subscribed twice to {handler.event_name}")
            self._by_event[handler.event_name].append(handler)
            self._by_name[f"{handler.name}"] = handler
            self._by_name[f"{handler.name}@{handler.event_name}"] = handler

    def handlers(self) -> list[BoundHandler]:
        return [handler for handlers in self._by_event.values() for handler in handlers]

    def handler(self, name: str, event_name: str) -> BoundHandler:
        try:
            return self._by_name[f"{name}@{event_name}"]
        except KeyError:
            raise RegistryError(f"no handler {name} for {event_name} in this process") from None

    def db_only(self, name: str) -> bool:
        """Whether handler ``name`` declared that its only effects are its session's writes (False if unknown here:
        running it alone is what reports the unknown handler)."""
        handler = self._by_name.get(name)
        return handler is not None and handler.db_only

    @property
    def queues(self) -> set[str]:
        return {handler.queue for handlers in self._by_event.values() for handler in handlers}

    @property
    def subscriptions(self) -> dict[str, list[str]]:
        return {event: [handler.name for handler in handlers] for event, handlers in sorted(self._by_event.items())}


def load_subscriptions(module_names: Iterable[str]) -> list[Subscriptions]:
    """Import each module's ``subscriptions``. A name that is not a module, or a module without subscriptions, is a
    configuration error: skipping it would start a process that silently never handles that module's events."""
    found: list[Subscriptions] = []
    for name in module_names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise HandlerModulesError(f"invalid HANDLER_MODULES: {name!r} is not a module name")
        try:
            module = import_module(name)
        except ModuleNotFoundError as error:
            # Only the named module (or a package above it) missing is the setting's fault; a module that exists but
            # fails on its own imports is a bug and keeps its traceback.
            if error.name and (name == error.name or name.startswith(f"{error.name}.")):
                raise HandlerModulesError(f"invalid HANDLER_MODULES: no module named {name!r}") from None
            raise
        subscriptions = getattr(module, "subscriptions", None)
        if not isinstance(subscriptions, Subscriptions):
            raise HandlerModulesError(f"invalid HANDLER_MODULES: {name} has no `subscriptions = Subscriptions(...)`")
        found.append(subscriptions)
    return found


def bind(subscription: Subscription, dependencies: Mapping[str, object]) -> BoundHandler:
    parameters = inspect.signature(subscription.func).parameters
    wanted = [p.name for p in parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    missing = [name for name in wanted if name not in dependencies]
    if missing:
        raise RegistryError(f"{subscription.handler_name} needs {', '.join(missing)}, which the bootstrap lacks")
    bound = {name: dependencies[name] for name in wanted}
    func = subscription.func

    def call(event: Any, ctx: HandlerContext) -> None:
        func(event, ctx, **bound)

    return BoundHandler(
        subscription.handler_name, subscription.queue, subscription.event_name, call, db_only=subscription.db_only
    )


def build_registry(sources: Iterable[Subscriptions], dependencies: Mapping[str, object]) -> Registry:
    return Registry(bind(subscription, dependencies) for source in sources for subscription in source)
