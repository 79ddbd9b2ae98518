"""The demo tenant's staff: an OWNER and a TECH, members the only way there is (an invitation, accepted).

The sandbox's sign-in page signs in as one of them (their Clerk user id and verified email are in its token), so the
staff app can be used locally without a Clerk account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from domain.events.sink import EventSink
from domain.identity import invitations
from domain.identity.service import list_members

# The demo tenant's owner mobile is also the demo OWNER's membership mobile, so what she does by SMS (taking a
# conversation over from an alert) is hers in the staff app too: one person, not an unnamed number.
DEMO_OWNER_MOBILE = "+13105551002"


@dataclass(frozen=True)
class DemoMember:
    key: str  # what the sign-in page calls them: "owner", "tech"
    clerk_user_id: str
    email: str
    name: str
    role: str
    mobile: str | None = None


DEMO_MEMBERS = (
    DemoMember("owner", "user_demo_owner", "owner@ace-plumbing.example", "Olivia Ace", "OWNER", DEMO_OWNER_MOBILE),
    DemoMember("tech", "user_demo_tech", "sarah@ace-plumbing.example", "Sarah Tech", "TECH"),
)


def demo_member(key: str) -> DemoMember | None:
    return next((member for member in DEMO_MEMBERS if member.key == key), None)


def seed_demo_members(session: Session, *, tenant_id: uuid.UUID, events: EventSink) -> None:
    """Invite and accept each demo member not yet a member. Idempotent."""
    present = {member.clerk_user_id for member in list_members(session, tenant_id)}
    for member in DEMO_MEMBERS:
        if member.clerk_user_id in present:
            continue
        issued = invitations.invite(
            session,
            tenant_id=tenant_id,
            email=member.email,
            role=member.role,
            mobile=member.mobile,
            ttl=timedelta(hours=1),
            events=events,
        )
        invitations.accept(
            session,
            token=issued.token,
            clerk_user_id=member.clerk_user_id,
            email=member.email,
            name=member.name,
            events=events,
        )
