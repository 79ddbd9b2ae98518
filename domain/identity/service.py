"""Identity: tenants and their numbers, users and memberships (OWNER/TECH), plans and feature gates.

Feature gates are derived from the subscription (``SubscriptionUpdated``) and the plan's data in ``id_plans``;
``past_due`` keeps the plan's gates open for the plan's grace period, computed at read time so nothing has to wake
up for the gates to close.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.base import E164_PATTERN
from domain.events.catalog import FeatureGatesChanged, MembershipRemoved, TenantCreated
from domain.events.sink import EventSink
from domain.identity.models import FeatureGates, Membership, PhoneNumber, Plan, Tenant, User
from domain.phones import to_e164

Role = Literal["OWNER", "TECH"]
ROLES: tuple[Role, ...] = ("OWNER", "TECH")
OPEN_STATUSES = frozenset({"active", "trialing"})
DEFAULT_PLAN = "starter"


class IdentityError(ValueError):
    """A request identity cannot honour; the message is one line for people."""


class NotFound(IdentityError):
    pass


class Conflict(IdentityError):
    pass


def normalise_e164(value: str) -> str:
    """A phone number someone typed (US default region) in E.164, or IdentityError saying it is not one."""
    e164 = to_e164(value)
    if e164 is None:
        raise IdentityError(f"{value!r} is not a phone number")
    return e164


@dataclass(frozen=True)
class TenantRecord:
    id: uuid.UUID
    name: str
    timezone: str
    forward_to: str
    phone_number: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "timezone": self.timezone,
            "forward_to": self.forward_to,
            "phone_number": self.phone_number,
        }


def create_tenant(
    session: Session,
    *,
    name: str,
    number: str,
    forward_to: str,
    timezone: str,
    plan: str = DEFAULT_PLAN,
    subscription_status: str = "trialing",
    tenant_id: uuid.UUID | None = None,
    owner_mobile: str | None = None,
    clerk_org_id: str | None = None,
    events: EventSink,
) -> TenantRecord:
    """A tenant with its Twilio number and initial gates, and ``TenantCreated`` (compliance opens its campaign).

    ``owner_mobile`` is where tenant-facing notifications go (a missed call, a caller who wants a person);
    ``clerk_org_id`` links the Clerk organization whose tokens act for this tenant."""
    sink = events
    if not name.strip():
        raise IdentityError("a tenant needs a name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise IdentityError(f"{timezone!r} is not an IANA time zone") from None
    e164, forward = normalise_e164(number), normalise_e164(forward_to)
    owner = None if owner_mobile is None else normalise_e164(owner_mobile)
    plan_row = session.get(Plan, plan)
    if plan_row is None:
        raise IdentityError(f"unknown plan {plan!r}")
    org = (clerk_org_id or "").strip() or None
    new_id = tenant_id or uuid.uuid4()
    created = session.scalar(
        insert(Tenant)
        .values(
            id=new_id, name=name.strip(), timezone=timezone, forward_to=forward, owner_mobile=owner, clerk_org_id=org
        )
        .on_conflict_do_nothing(index_elements=["clerk_org_id"])
        .returning(Tenant.id)
    )
    if created is None:
        raise Conflict(f"Clerk organization {org} is already linked to a tenant")
    claimed = session.scalar(
        insert(PhoneNumber)
        .values(id=uuid.uuid4(), tenant_id=new_id, e164=e164)
        .on_conflict_do_nothing(index_elements=["e164"])
        .returning(PhoneNumber.id)
    )
    if claimed is None:
        raise Conflict(f"{e164} already belongs to a tenant")
    session.add(
        FeatureGates(
            tenant_id=new_id,
            plan=plan,
            subscription_status=subscription_status,
            gates=_gates_for(plan_row, subscription_status, past_due_since=None, now=datetime.now(UTC)),
        )
    )
    session.flush()
    sink.emit(TenantCreated(name=name.strip(), phone_number=e164, timezone=timezone), tenant_id=new_id)
    return TenantRecord(new_id, name.strip(), timezone, forward, e164)


def tenant_by_number(session: Session, e164: str) -> TenantRecord | None:
    row = session.execute(
        select(Tenant, PhoneNumber.e164)
        .join(PhoneNumber, PhoneNumber.tenant_id == Tenant.id)
        .where(PhoneNumber.e164 == e164)
    ).first()
    if row is None:
        return None
    tenant, number = row
    return TenantRecord(tenant.id, tenant.name, tenant.timezone, tenant.forward_to, number)


def get_tenant(session: Session, tenant_id: uuid.UUID) -> TenantRecord | None:
    # One round trip: the tenant with its first number (every page and the API read this on each request).
    number = (
        select(PhoneNumber.e164)
        .where(PhoneNumber.tenant_id == Tenant.id)
        .order_by(PhoneNumber.created_at)
        .limit(1)
        .scalar_subquery()
    )
    row = session.execute(
        select(Tenant.id, Tenant.name, Tenant.timezone, Tenant.forward_to, number).where(Tenant.id == tenant_id)
    ).one_or_none()
    if row is None:
        return None
    return TenantRecord(row[0], row[1], row[2], row[3], row[4])


# --- the tenant's texts and numbers --------------------------------------------------------------------------

MAX_TEMPLATE_CHARS = 640  # four SMS segments: a first message longer than that is not read
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_E164 = re.compile(E164_PATTERN)


class InvalidField(IdentityError):
    """One field of a change is not acceptable; ``field`` names it so a form can say so beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TenantMessaging:
    """What the tenant's callers and owner are sent, and where: the texts and numbers an OWNER sets."""

    first_message: str
    after_hours: str
    help_text: str
    forward_to: str
    owner_mobile: str | None
    spanish_replies: bool = True  # the AI answers Spanish-speaking callers in Spanish (off: a person does)


def check_template(field: str, value: str) -> str:
    """A message template as stored: trimmed, not empty, at most ``MAX_TEMPLATE_CHARS``, and no placeholder but
    ``{business}`` (the business's name)."""
    text_value = value.strip()
    if not text_value:
        raise InvalidField(field, "write the message (it cannot be empty)")
    if len(text_value) > MAX_TEMPLATE_CHARS:
        raise InvalidField(field, f"at most {MAX_TEMPLATE_CHARS} characters (this is {len(text_value)})")
    unknown = [found for found in _PLACEHOLDER.findall(text_value) if found != "{business}"]
    stray = _PLACEHOLDER.sub("", text_value)
    if unknown or "{" in stray or "}" in stray:
        raise InvalidField(field, "the only placeholder is {business} (the business's name); no other braces")
    return text_value


def check_number(field: str, value: str) -> str:
    """A phone number in E.164, with a message that says what is expected."""
    text_value = value.strip()
    if not _E164.fullmatch(text_value):
        raise InvalidField(field, "enter the number in E.164 form: + then country code and number, e.g. +13105551234")
    try:
        return normalise_e164(text_value)
    except IdentityError:
        raise InvalidField(field, f"{text_value} is not a possible phone number") from None


def tenant_messaging(session: Session, tenant_id: uuid.UUID) -> TenantMessaging | None:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return None
    return _messaging(tenant)


def _messaging(tenant: Tenant) -> TenantMessaging:
    return TenantMessaging(
        tenant.first_message_template, tenant.after_hours_template, tenant.help_text, tenant.forward_to,
        tenant.owner_mobile, tenant.spanish_replies,
    )  # fmt: skip


def update_tenant_messaging(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    first_message: str | None = None,
    after_hours: str | None = None,
    help_text: str | None = None,
    forward_to: str | None = None,
    owner_mobile: str | None = None,
    clear_owner_mobile: bool = False,
    spanish_replies: bool | None = None,
) -> TenantMessaging:
    """Change what is given of the tenant's texts (first message, after hours, the HELP answer), numbers
    (forward-to, owner mobile; ``clear_owner_mobile`` stops owner alerts) and whether the AI answers in Spanish.
    Each is checked as ``check_template`` / ``check_number`` say; the conversation flows read them at the next
    message, so nothing else needs telling."""
    tenant = session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    if first_message is not None:
        tenant.first_message_template = check_template("first_message", first_message)
    if after_hours is not None:
        tenant.after_hours_template = check_template("after_hours", after_hours)
    if help_text is not None:
        tenant.help_text = check_template("help_text", help_text)
    if forward_to is not None:
        tenant.forward_to = check_number("forward_to", forward_to)
    if clear_owner_mobile:
        tenant.owner_mobile = None
    elif owner_mobile is not None:
        tenant.owner_mobile = check_number("owner_mobile", owner_mobile)
    if spanish_replies is not None:
        tenant.spanish_replies = spanish_replies
    session.flush()
    return _messaging(tenant)


# --- the callback grace period ----------------------------------------------------------------------------------

MAX_CALLBACK_GRACE_SECONDS = 120


def check_callback_grace(value: object) -> int:
    """Seconds the first SMS waits for a callback: a whole number from 0 (send at once) to 120."""
    text_value = str(value).strip()
    if isinstance(value, bool) or not (text_value.isascii() and text_value.isdigit()):
        raise InvalidField("callback_grace_seconds", "a whole number of seconds from 0 to 120")
    seconds = int(text_value)
    if seconds > MAX_CALLBACK_GRACE_SECONDS:
        raise InvalidField("callback_grace_seconds", f"at most {MAX_CALLBACK_GRACE_SECONDS} seconds (0 = no wait)")
    return seconds


def callback_grace_seconds(session: Session, tenant_id: uuid.UUID) -> int:
    value = session.execute(select(Tenant.callback_grace_seconds).where(Tenant.id == tenant_id)).scalar_one_or_none()
    return int(value or 0)


def update_callback_grace(session: Session, *, tenant_id: uuid.UUID, seconds: object) -> int:
    """Set how long the tenant's first SMS waits for a callback (``check_callback_grace``); the next missed call
    uses it."""
    tenant = session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    tenant.callback_grace_seconds = check_callback_grace(seconds)
    session.flush()
    return tenant.callback_grace_seconds


# --- feature gates ---------------------------------------------------------------------------------------------


class _PlanTerms(Protocol):
    """What of a plan decides its gates: an ``id_plans`` row, as the ORM's or a statement's."""

    @property
    def gates(self) -> dict[str, Any]: ...

    @property
    def past_due_grace_days(self) -> int: ...


def _gates_for(
    plan: _PlanTerms | None, status: str, *, past_due_since: datetime | None, now: datetime
) -> dict[str, bool]:
    if plan is None:
        return {}
    plan_gates = {name: bool(value) for name, value in plan.gates.items()}
    if status in OPEN_STATUSES:
        return plan_gates
    if status == "past_due":
        since = past_due_since or now
        if now < since + timedelta(days=plan.past_due_grace_days):
            return plan_gates
    return dict.fromkeys(plan_gates, False)


# The tenant's gate row with its plan in one round trip (every outbound message asks), read past the ORM's identity
# map, which the billing module's raw upserts bypass.
_GATES_WITH_PLAN = text(
    """
    SELECT g.plan, g.subscription_status, g.past_due_since, p.code, p.gates, p.past_due_grace_days
      FROM id_feature_gates g LEFT JOIN id_plans p ON p.code = g.plan
     WHERE g.tenant_id = :tenant
    """
)


def feature_gates_for(session: Session, tenant_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, bool]:
    """The tenant's effective gates now (a past_due grace period that ran out closes them). Unknown ⇒ all closed."""
    state = gate_state(session, tenant_id, now=now)
    return {} if state is None else state.gates


@dataclass(frozen=True)
class GateState:
    plan: str
    subscription_status: str
    gates: dict[str, bool]
    past_due_since: datetime | None
    grace_ends_at: datetime | None


def gate_state(session: Session, tenant_id: uuid.UUID, *, now: datetime | None = None) -> GateState | None:
    row = session.execute(_GATES_WITH_PLAN, {"tenant": tenant_id}).one_or_none()
    if row is None:
        return None
    plan = None if row.code is None else row  # the row carries the plan's gates and grace days
    grace_ends = (
        row.past_due_since + timedelta(days=plan.past_due_grace_days)
        if plan is not None and row.past_due_since is not None
        else None
    )
    gates = _gates_for(plan, row.subscription_status, past_due_since=row.past_due_since, now=now or datetime.now(UTC))
    return GateState(row.plan, row.subscription_status, gates, row.past_due_since, grace_ends)


def apply_subscription(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    plan: str,
    status: str,
    source_created: int,
    events: EventSink,
    now: datetime | None = None,
) -> bool:
    """Recompute the tenant's gates from a subscription fact; ``FeatureGatesChanged`` when anything changed.

    One conditional upsert: a fact older than the stored one (``source_created``) changes nothing, so duplicated or
    reordered deliveries converge on the newest state.
    """
    now = now or datetime.now(UTC)
    plan_row = session.get(Plan, plan)  # an unknown plan gates nothing open: fail closed, never guess
    before = gate_state(session, tenant_id, now=now)
    updated = session.execute(
        text(
            """
            INSERT INTO id_feature_gates (tenant_id, plan, subscription_status, gates, past_due_since, source_created,
                                          updated_at)
            VALUES (:tenant, :plan, :status, '{}'::jsonb, CASE WHEN :status = 'past_due' THEN now() END, :created,
                    now())
            ON CONFLICT (tenant_id) DO UPDATE SET
              plan = EXCLUDED.plan,
              subscription_status = EXCLUDED.subscription_status,
              -- the grace period runs from the first past_due, not from every repeat of it
              past_due_since = CASE WHEN EXCLUDED.subscription_status <> 'past_due' THEN NULL
                                    ELSE coalesce(id_feature_gates.past_due_since, now()) END,
              source_created = EXCLUDED.source_created,
              updated_at = now()
            WHERE id_feature_gates.source_created <= EXCLUDED.source_created
            RETURNING past_due_since
            """
        ),
        {"tenant": tenant_id, "plan": plan, "status": status, "created": source_created},
    ).first()
    if updated is None:
        return False
    gates = _gates_for(plan_row, status, past_due_since=updated.past_due_since, now=now)
    session.execute(
        text("UPDATE id_feature_gates SET gates = CAST(:gates AS jsonb) WHERE tenant_id = :tenant"),
        {"gates": _json(gates), "tenant": tenant_id},
    )
    if before is not None and (before.plan, before.subscription_status, before.gates) == (plan, status, gates):
        return False
    events.emit(FeatureGatesChanged(plan=plan, subscription_status=status, gates=gates), tenant_id=tenant_id)
    return True


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True)


# --- users, memberships and which tenant a request acts for --------------------------------------------------


class NotAllowed(IdentityError):
    """The caller may not do this (a 403), e.g. accept an invitation sent to another address."""


class Gone(IdentityError):
    """The thing existed but no longer works (a 410): a revoked or expired invitation."""


class TenantRequired(IdentityError):
    """A member of several tenants, with no default, named none of them."""


@dataclass(frozen=True)
class MemberRecord:
    user_id: uuid.UUID
    clerk_user_id: str
    email: str | None  # the address the invitation went to: the tenant's record, not the user's profile
    role: str
    mobile: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "clerk_user_id": self.clerk_user_id,
            "email": self.email,
            "role": self.role,
            "mobile": self.mobile,
        }


@dataclass(frozen=True)
class Profile:
    """What the user's own verified token says about them; the only source of ``id_users.email`` and ``name``."""

    email: str | None
    name: str | None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a Clerk user, the tenants they belong to with their role in each, and their default tenant.

    ``org_tenant`` is the tenant the token's Clerk organization is linked to, if the token carries one that is."""

    clerk_user_id: str
    user_id: uuid.UUID | None
    roles: dict[uuid.UUID, str]
    default_tenant: uuid.UUID | None = None
    org_tenant: uuid.UUID | None = None


def principal_for(
    session: Session, clerk_user_id: str, *, profile: Profile | None = None, org_id: str | None = None
) -> Principal:
    """Look up a Clerk user's memberships. Runs as the owner (it decides which tenant the request may act for).

    A profile from the token that differs from the stored one replaces it: the user's own claims are the only
    writer of their email and name."""
    # One round trip for the user and their memberships (a user with none yet still comes back, once).
    rows = session.execute(
        select(User.id, User.email, User.name, Membership.tenant_id, Membership.role, Membership.is_default)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(User.clerk_user_id == clerk_user_id)
    ).all()
    user = rows[0] if rows else None
    claimed = profile if profile is not None and profile.email is not None else None
    if user is not None and claimed is not None and (user.email, user.name) != (claimed.email, claimed.name):
        session.execute(
            text("UPDATE id_users SET email = :email, name = :name WHERE id = :user"),
            {"email": claimed.email, "name": claimed.name, "user": user.id},
        )
    members = [row for row in rows if row.tenant_id is not None]
    org_tenant = None if not org_id else session.scalar(select(Tenant.id).where(Tenant.clerk_org_id == org_id))
    return Principal(
        clerk_user_id,
        user.id if user is not None else None,
        {row.tenant_id: row.role for row in members},
        next((row.tenant_id for row in members if row.is_default), None),
        org_tenant,
    )


def choose_tenant(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    """The tenant a request acts for: ``X-Tenant-Id``, else the token's organization, else the only membership,
    else the default one (the user's first). A new membership therefore never moves a request that named nothing."""
    if not principal.roles:
        raise NotAllowed("this user belongs to no tenant")
    if requested is not None and principal.org_tenant is not None and requested != principal.org_tenant:
        raise Conflict("X-Tenant-Id and the token's organization name different tenants")
    chosen = requested or principal.org_tenant
    if chosen is not None:
        if chosen not in principal.roles:
            raise NotAllowed("this user is not a member of that tenant")
        return chosen
    if len(principal.roles) == 1:
        return next(iter(principal.roles))
    if principal.default_tenant is not None:
        return principal.default_tenant
    raise TenantRequired("member of several tenants: send X-Tenant-Id or sign in to the tenant's organization")


def list_members(session: Session, tenant_id: uuid.UUID) -> list[MemberRecord]:
    rows = session.execute(
        select(User.id, User.clerk_user_id, Membership.email, Membership.role, Membership.mobile)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(Membership.created_at, User.id)
    ).all()
    return [MemberRecord(row.id, row.clerk_user_id, row.email, row.role, row.mobile) for row in rows]


def _lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    # Serialises membership changes per tenant, so two concurrent removals or demotions cannot both pass the
    # last-owner rule (each would otherwise still see the other's OWNER row in its snapshot).
    session.execute(text("SELECT 1 FROM id_tenants WHERE id = :tenant FOR UPDATE"), {"tenant": tenant_id})


def _owners_left_after(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    count = session.scalar(
        text("SELECT count(*) FROM id_memberships WHERE tenant_id = :tenant AND role = 'OWNER' AND user_id <> :user"),
        {"tenant": tenant_id, "user": user_id},
    )
    return int(count or 0)


def set_role(session: Session, *, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str) -> MemberRecord:
    if role not in ROLES:
        raise IdentityError("role must be OWNER or TECH")
    _lock_tenant(session, tenant_id)
    member = session.get(Membership, (tenant_id, user_id))
    if member is None:
        raise NotFound("no such member")
    if member.role == "OWNER" and role != "OWNER" and _owners_left_after(session, tenant_id, user_id) == 0:
        raise Conflict("a tenant keeps at least one OWNER")
    member.role = role
    session.flush()
    clerk_user_id = session.scalar(select(User.clerk_user_id).where(User.id == user_id))
    assert clerk_user_id is not None
    return MemberRecord(user_id, clerk_user_id, member.email, role, member.mobile)


def remove_member(session: Session, *, tenant_id: uuid.UUID, user_id: uuid.UUID, events: EventSink) -> None:
    """Remove a membership (``MembershipRemoved``); never the tenant's last OWNER."""
    sink = events
    _lock_tenant(session, tenant_id)
    removed = session.execute(
        text(
            """
            DELETE FROM id_memberships m WHERE m.tenant_id = :tenant AND m.user_id = :user
              AND (m.role <> 'OWNER' OR EXISTS (SELECT 1 FROM id_memberships o WHERE o.tenant_id = m.tenant_id
                                                AND o.role = 'OWNER' AND o.user_id <> m.user_id))
            RETURNING m.role
            """
        ),
        {"tenant": tenant_id, "user": user_id},
    ).first()
    if removed is None:
        if session.get(Membership, (tenant_id, user_id)) is None:
            raise NotFound("no such member")
        raise Conflict("a tenant keeps at least one OWNER")
    sink.emit(MembershipRemoved(user_id=user_id, role=removed.role), tenant_id=tenant_id)


def member_for_email(session: Session, tenant_id: uuid.UUID, email: str) -> uuid.UUID | None:
    """The member of the tenant invited at ``email`` (a membership from before invitations: the user's address)."""
    return session.scalar(
        text(
            "SELECT m.user_id FROM id_memberships m JOIN id_users u ON u.id = m.user_id WHERE m.tenant_id = :tenant"
            " AND (m.email = :email OR (m.email IS NULL AND lower(u.email) = :email))"
        ),
        {"tenant": tenant_id, "email": email},
    )


@dataclass(frozen=True)
class StaffNumber:
    """A number that belongs to the tenant's staff: a member's registered mobile, or the tenant's owner mobile.

    ``user_id`` is the member's; the owner mobile alone (no membership registered with it) has none."""

    phone: str
    role: str
    user_id: uuid.UUID | None
    name: str | None


def _once_each(members: list[StaffNumber], owner_mobile: str | None) -> list[StaffNumber]:
    """Every staff number of the tenant, once each: a number on several memberships is the OWNER's if any holds it
    (then the oldest membership's, ``members`` in that order); the owner mobile counts as OWNER when no membership
    carries it."""
    found: dict[str, StaffNumber] = {}
    for member in members:
        found.setdefault(member.phone, member)
    if owner_mobile is not None and owner_mobile not in found:
        found[owner_mobile] = StaffNumber(owner_mobile, "OWNER", None, None)
    return list(found.values())


@dataclass(frozen=True)
class TenantCard:
    """Everything a conversation needs to know about its tenant from identity, read in one statement (every missed
    call and caller text reads it, so its five reads were a good share of a conversation's round trips)."""

    tenant: TenantRecord
    messaging: TenantMessaging
    callback_grace_seconds: int
    staff: tuple[StaffNumber, ...]


# The members' numbers, OWNERs first and then oldest first, as [mobile, role, user_id, name] arrays; NULLIF keeps
# a blank name falling back to the member's e-mail.
_TENANT_CARD = text(
    """
    SELECT t.id, t.name, t.timezone, t.forward_to, t.owner_mobile, t.callback_grace_seconds,
           t.first_message_template, t.after_hours_template, t.help_text, t.spanish_replies,
           (SELECT p.e164 FROM id_phone_numbers p WHERE p.tenant_id = t.id ORDER BY p.created_at LIMIT 1) AS number,
           (SELECT coalesce(jsonb_agg(jsonb_build_array(m.mobile, m.role, m.user_id,
                                                        coalesce(nullif(u.name, ''), m.email))
                                      ORDER BY m.role <> 'OWNER', m.created_at, m.user_id), '[]'::jsonb)
              FROM id_memberships m JOIN id_users u ON u.id = m.user_id
             WHERE m.tenant_id = t.id AND m.mobile IS NOT NULL) AS staff
      FROM id_tenants t
     WHERE t.id = :tenant
    """
)


def tenant_card(session: Session, tenant_id: uuid.UUID) -> TenantCard | None:
    row = session.execute(_TENANT_CARD, {"tenant": tenant_id}).one_or_none()
    if row is None:
        return None
    members = [
        StaffNumber(mobile, role, None if user_id is None else uuid.UUID(user_id), name)
        for mobile, role, user_id, name in row.staff
    ]
    return TenantCard(
        tenant=TenantRecord(row.id, row.name, row.timezone, row.forward_to, row.number),
        messaging=TenantMessaging(
            row.first_message_template,
            row.after_hours_template,
            row.help_text,
            row.forward_to,
            row.owner_mobile,
            row.spanish_replies,
        ),
        callback_grace_seconds=int(row.callback_grace_seconds or 0),
        staff=tuple(_once_each(members, row.owner_mobile)),
    )


# --- the tenant directory (operators' `nmc tenant list`) ------------------------------------------------------


@dataclass(frozen=True)
class TenantListing:
    tenant: TenantRecord
    plan: str | None
    subscription_status: str | None
    created_at: datetime


def list_tenants(session: Session, *, limit: int = 1000) -> list[TenantListing]:
    """Tenants, newest first, each with its first number and its plan and subscription state: one statement."""
    rows = session.execute(
        text(
            "SELECT t.id, t.name, t.timezone, t.forward_to, t.created_at, g.plan, g.subscription_status,"
            " (SELECT p.e164 FROM id_phone_numbers p WHERE p.tenant_id = t.id ORDER BY p.created_at LIMIT 1) AS number"
            " FROM id_tenants t LEFT JOIN id_feature_gates g ON g.tenant_id = t.id"
            " ORDER BY t.created_at DESC, t.id LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    return [
        TenantListing(
            TenantRecord(row.id, row.name, row.timezone, row.forward_to, row.number),
            row.plan,
            row.subscription_status,
            row.created_at,
        )
        for row in rows
    ]
