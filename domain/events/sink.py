"""Where services put the events they raise: an ``EventSink`` knows which chain (correlation, causation) they join.

Three implementations: the ``HandlerContext`` of a delivery (every event it takes is caused by the event being
handled and shares its correlation id), ``RootSink`` for an entry point with no cause event (an API request, a CLI
command, a scheduler job), which starts a chain, and ``ResumedSink`` for work a handler deferred to later (a first
SMS held for a grace period), which continues the chain of the event that deferred it. A service never writes to
the outbox itself, so an event raised three calls deep inside a handler still names the event that caused it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from domain.events import outbox
from domain.events.envelope import Envelope


class EventSink(Protocol):
    def emit(
        self, event: object, *, tenant_id: uuid.UUID | None = None, occurred_at: datetime | None = None
    ) -> Envelope:
        """Append ``event`` to the outbox in the caller's transaction, in this sink's chain."""
        ...


class RootSink:
    """The start of a chain: no causation; one correlation id for everything one entry point raises.

    ``correlation_id`` is the caller's (a request's ``X-Correlation-Id``) when there is one; otherwise the first
    event's own id becomes the chain's correlation id, as for any fact with no cause upstream.
    """

    def __init__(
        self, session: Session, *, correlation_id: uuid.UUID | None = None, tenant_id: uuid.UUID | None = None
    ) -> None:
        self.session = session
        self.correlation_id = correlation_id
        self._tenant_id = tenant_id

    def emit(
        self, event: object, *, tenant_id: uuid.UUID | None = None, occurred_at: datetime | None = None
    ) -> Envelope:
        envelope = outbox.append(
            self.session,
            event,
            tenant_id=tenant_id if tenant_id is not None else self._tenant_id,
            correlation_id=self.correlation_id,
            occurred_at=occurred_at,
        )
        self.correlation_id = envelope.correlation_id
        return envelope


class ResumedSink:
    """A chain resumed later: what a scheduler job raises for deferred work names the event that deferred it
    (``causation_id``) and shares its ``correlation_id``, as if the deferring handler had raised it."""

    def __init__(
        self, session: Session, *, correlation_id: uuid.UUID, causation_id: uuid.UUID, tenant_id: uuid.UUID
    ) -> None:
        self.session = session
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self._tenant_id = tenant_id

    def emit(
        self, event: object, *, tenant_id: uuid.UUID | None = None, occurred_at: datetime | None = None
    ) -> Envelope:
        return outbox.append(
            self.session,
            event,
            tenant_id=tenant_id if tenant_id is not None else self._tenant_id,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            occurred_at=occurred_at,
        )
