"""Memberships by invitation: an OWNER (or an operator) invites an email address with a role; the user who signs in
with that verified address accepts it with the token; nobody else can, and nobody can attach a user by their id.

The token (32 random bytes) is returned once, to whoever invited; only its SHA-256 is stored. Every rule that two
requests could race on is decided by one statement: a conditional ``UPDATE`` accepts (so a token is accepted once),
a partial unique index keeps one open invitation per address and tenant, the membership's primary key refuses a
second membership, and ``uq_id_memberships_default`` keeps one default tenant per user.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.events.catalog import InvitationAccepted, InvitationCreated, InvitationRevoked
from domain.events.sink import EventSink
from domain.identity.models import Invitation, Membership
from domain.identity.service import (
    ROLES,
    Conflict,
    Gone,
    IdentityError,
    NotAllowed,
    NotFound,
    normalise_e164,
)

TOKEN_BYTES = 32
MAX_EMAIL = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OPEN = text("accepted_at IS NULL AND revoked_at IS NULL")


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased (how Clerk compares addresses), or IdentityError."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise IdentityError(f"{value!r} is not an email address")
    return email


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class InvitationRecord:
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: str
    mobile: str | None
    created_at: datetime
    expires_at: datetime
    status: str  # pending, expired, accepted or revoked

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "tenant_id": str(self.tenant_id),
            "email": self.email,
            "role": self.role,
            "mobile": self.mobile,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: InvitationRecord
    token: str  # shown once; give it to the invitee, who accepts with POST /v1/invitations/accept

    def as_json(self) -> dict[str, Any]:
        return {**self.invitation.as_json(), "token": self.token}


@dataclass(frozen=True)
class Acceptance:
    invitation_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    is_default: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "invitation_id": str(self.invitation_id),
            "tenant_id": str(self.tenant_id),
            "user_id": str(self.user_id),
            "role": self.role,
            "default": self.is_default,
        }


def _status(row: Invitation, now: datetime) -> str:
    if row.accepted_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= now else "pending"


def _record(row: Invitation, now: datetime) -> InvitationRecord:
    return InvitationRecord(
        row.id, row.tenant_id, row.email, row.role, row.mobile, row.created_at, row.expires_at, _status(row, now)
    )


def invite(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    email: str,
    role: str,
    ttl: timedelta,
    mobile: str | None = None,
    invited_by: uuid.UUID | None = None,
    now: datetime | None = None,
    events: EventSink,
) -> IssuedInvitation:
    """A new invitation (``InvitationCreated``); an open one to the same address is revoked first (a resend)."""
    sink = events
    if role not in ROLES:
        raise IdentityError("role must be OWNER or TECH")
    address = normalise_email(email)
    phone = None if mobile is None else normalise_e164(mobile)
    now = now or datetime.now(UTC)
    member = session.scalar(
        select(Membership.user_id).where(Membership.tenant_id == tenant_id, Membership.email == address)
    )
    if member is not None:
        raise Conflict(f"{address} is already a member of this tenant")
    superseded = session.scalars(
        text(
            "UPDATE id_invitations SET revoked_at = :now WHERE tenant_id = :tenant AND email = :email"
            " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id"
        ),
        {"now": now, "tenant": tenant_id, "email": address},
    ).all()
    for old in superseded:
        sink.emit(InvitationRevoked(invitation_id=old), tenant_id=tenant_id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    new_id = session.scalar(
        insert(Invitation)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            email=address,
            role=role,
            mobile=phone,
            token_hash=token_hash(token),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + ttl,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "email"], index_where=_OPEN)
        .returning(Invitation.id)
    )
    if new_id is None:
        raise Conflict(f"another invitation to {address} was made at the same moment")
    row = session.get(Invitation, new_id)
    assert row is not None
    sink.emit(
        InvitationCreated(invitation_id=new_id, role=role, expires_at=row.expires_at, invited_by=invited_by),
        tenant_id=tenant_id,
    )
    return IssuedInvitation(_record(row, now), token)


def list_open(session: Session, tenant_id: uuid.UUID, *, now: datetime | None = None) -> list[InvitationRecord]:
    """Invitations not yet accepted or revoked (pending, or expired and waiting to be resent), newest first."""
    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(Invitation)
        .where(Invitation.tenant_id == tenant_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id)
    ).all()
    return [_record(row, now) for row in rows]


def revoke(session: Session, *, tenant_id: uuid.UUID, invitation_id: uuid.UUID, events: EventSink) -> None:
    """Withdraw an open invitation (``InvitationRevoked``): its token stops working at once."""
    sink = events
    revoked = session.scalar(
        text(
            "UPDATE id_invitations SET revoked_at = now() WHERE id = :id AND tenant_id = :tenant"
            " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id"
        ),
        {"id": invitation_id, "tenant": tenant_id},
    )
    if revoked is None:
        row = session.scalar(
            select(Invitation).where(Invitation.id == invitation_id, Invitation.tenant_id == tenant_id)
        )
        if row is None:
            raise NotFound("no such invitation")
        raise Conflict(f"that invitation is already {_status(row, datetime.now(UTC))}")
    sink.emit(InvitationRevoked(invitation_id=invitation_id), tenant_id=tenant_id)


def revoke_for_email(session: Session, *, tenant_id: uuid.UUID, email: str, events: EventSink) -> list[uuid.UUID]:
    """Withdraw every open invitation to an address (the CLI's ``member remove``)."""
    sink = events
    revoked = list(
        session.scalars(
            text(
                "UPDATE id_invitations SET revoked_at = now() WHERE tenant_id = :tenant AND email = :email"
                " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id"
            ),
            {"tenant": tenant_id, "email": normalise_email(email)},
        ).all()
    )
    for invitation_id in revoked:
        sink.emit(InvitationRevoked(invitation_id=invitation_id), tenant_id=tenant_id)
    return revoked


def accept(
    session: Session,
    *,
    token: str,
    clerk_user_id: str,
    email: str | None,
    name: str | None,
    now: datetime | None = None,
    events: EventSink,
) -> Acceptance:
    """The signed-in user takes the invitation the token names (``InvitationAccepted``).

    ``email`` and ``name`` come from the user's own verified token and become their profile. Runs as the owner:
    the user is not yet a member, so no tenant scope exists to run in; every statement is narrowed by the token.
    The user's first membership becomes their default tenant; a later one never changes it.
    """
    sink = events
    if email is None:
        raise NotAllowed("your sign-in token carries no verified email address, so no invitation can be matched")
    address = normalise_email(email)
    now = now or datetime.now(UTC)
    hashed = token_hash(token)
    # The upsert locks the user's row: two acceptances by one user run one after the other, so only the first
    # can see "no membership yet" and take the default.
    user_id = session.scalar(
        text(
            "INSERT INTO id_users (id, clerk_user_id, email, name) VALUES (gen_random_uuid(), :clerk, :email, :name)"
            " ON CONFLICT (clerk_user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name RETURNING id"
        ),
        {"clerk": clerk_user_id, "email": address, "name": name},
    )
    assert user_id is not None
    taken = session.execute(
        text(
            "UPDATE id_invitations SET accepted_by = :user, accepted_at = :now WHERE token_hash = :hash"
            " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > :now AND email = :email"
            " RETURNING id, tenant_id, role, email, mobile"
        ),
        {"user": user_id, "now": now, "hash": hashed, "email": address},
    ).first()
    if taken is None:
        raise _why_not(session, hashed, address, now)
    joined = session.execute(
        insert(Membership)
        .values(
            tenant_id=taken.tenant_id,
            user_id=user_id,
            role=taken.role,
            email=taken.email,
            mobile=taken.mobile,
            is_default=~select(Membership.user_id).where(Membership.user_id == user_id).exists(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id"])
        .returning(Membership.is_default)
    ).first()
    if joined is None:
        raise Conflict("you are already a member of this tenant")
    sink.emit(
        InvitationAccepted(invitation_id=taken.id, user_id=user_id, role=taken.role),
        tenant_id=taken.tenant_id,
    )
    return Acceptance(taken.id, taken.tenant_id, user_id, taken.role, joined.is_default)


def _why_not(session: Session, hashed: str, email: str, now: datetime) -> IdentityError:
    row = session.scalar(select(Invitation).where(Invitation.token_hash == hashed))
    if row is None:
        return NotFound("no such invitation")
    status = _status(row, now)
    if status == "accepted":
        return Conflict("this invitation was already accepted")
    if status == "revoked":
        return Gone("this invitation was revoked")
    if status == "expired":
        return Gone("this invitation expired; ask for a new one")
    return NotAllowed("this invitation was sent to another email address")
