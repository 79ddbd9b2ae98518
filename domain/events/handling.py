"""What a handler receives, and how modules declare which events they handle (beside the handlers)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.events import outbox
from domain.events.catalog import CATALOG
from domain.events.envelope import Envelope


class TooEarly(Exception):
    """A handler ran before what it needs had committed elsewhere (a race it expects, not a fault).

    Retried with backoff like any failure, and dead-lettered the same way if it never resolves, but logged as
    information until then: an operator reading warnings should see faults, not a callback that beat a commit.
    """


@dataclass
class HandlerContext:
    """One delivery's unit of work: the session whose transaction also commits the processed marker.

    It is the handler's ``EventSink``: services called from a handler take it, so what they raise joins the chain.
    """

    session: Session
    envelope: Envelope
    # Which attempt this is (1-based, counted durably before the handler runs).
    attempt: int = 1
    # Run by the delivery runner once this delivery's transaction has committed; dropped when it rolls back.
    committed: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` only if this delivery commits: a metric recorded here counts a delivery once, however
        many attempts (or a rolled-back group) ran the handler before."""
        self.committed.append(callback)

    @property
    def tenant_id(self) -> uuid.UUID | None:
        return self.envelope.tenant_id

    def emit(
        self, event: object, *, tenant_id: uuid.UUID | None = None, occurred_at: datetime | None = None
    ) -> Envelope:
        """Append a follow-up event caused by the one being handled (same correlation, causation = this event)."""
        return outbox.append(
            self.session,
            event,
            tenant_id=tenant_id if tenant_id is not None else self.envelope.tenant_id,
            correlation_id=self.envelope.correlation_id,
            causation_id=self.envelope.event_id,
            occurred_at=occurred_at,
        )


HandlerFunc = Callable[..., None]


@dataclass(frozen=True)
class Subscription:
    event_name: str
    handler_name: str
    queue: str
    func: HandlerFunc
    # The handler's only effects are its writes through ``ctx.session``: no calls out, no session of its own.
    db_only: bool = False


class Subscriptions:
    """A module's subscriptions. ``@subscriptions.on(SomeEvent)`` above a handler declares it.

    A handler is ``func(event, ctx, **dependencies)``; its name (``<module>.<function>``) is stored with every
    delivery, so renaming a handler is a migration, not a refactor.
    """

    def __init__(self, module: str) -> None:
        self.module = module
        self._items: list[Subscription] = []

    def on(self, *event_types: type, db_only: bool = False) -> Callable[[HandlerFunc], HandlerFunc]:
        """Declare ``func`` a handler of ``event_types``.

        ``db_only=True`` promises that the handler's only effects are its writes through ``ctx.session`` (no
        provider calls, no session or connection of its own, nothing it could not take back by a rollback). The
        worker may then run it in one transaction with other such deliveries of the same message, which is most of
        a delivery's cost saved; if any of them fails, that transaction is rolled back and each runs on its own.
        """

        def declare(func: HandlerFunc) -> HandlerFunc:
            for event_type in event_types:
                spec = CATALOG.latest(_event_name(event_type))
                self._items.append(
                    Subscription(spec.name, f"{self.module}.{func.__name__}", self.module, func, db_only=db_only)
                )
            return func

        return declare

    def __iter__(self) -> Any:
        return iter(self._items)


def _event_name(event_type: type) -> str:
    for spec in CATALOG:
        if spec.payload_type is event_type:
            return spec.name
    raise ValueError(f"{event_type.__name__} is not in the Event Catalog")
