"""Members for tests, made the only way there is: an invitation, accepted by the user with the invited email."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from domain.events.sink import RootSink
from domain.identity import invitations


def join(
    session: Session, *, tenant_id: uuid.UUID, clerk_user_id: str, role: str, email: str | None = None
) -> uuid.UUID:
    """Invite ``clerk_user_id``'s address to the tenant and accept as them; returns their user id."""
    address = email or f"{clerk_user_id}@example.test"
    issued = invitations.invite(
        session, tenant_id=tenant_id, email=address, role=role, ttl=timedelta(hours=1), events=RootSink(session)
    )
    accepted = invitations.accept(
        session, token=issued.token, clerk_user_id=clerk_user_id, email=address, name=None, events=RootSink(session)
    )
    return accepted.user_id
