"""The JSON the /v1 resources answer with, as pydantic models: the OpenAPI document's response schemas come from
these. The resources still build plain dicts (their serializers); the integration tests validate every real
response against these schemas, so a field added, renamed or made nullable without its schema fails a test.

``extra="forbid"`` makes each schema closed (``additionalProperties: false``), and a field without a default is
required even when it may be null: the serializers always write every key.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.conversations.states import CONVERSATION_STATES, MESSAGE_STATUSES

Role = Literal["OWNER", "TECH"]


def one_of(values: tuple[str, ...], description: str | None = None) -> Any:
    """A string field limited to ``values`` (kept beside the constants the domain checks, not copied here)."""
    return Field(json_schema_extra={"enum": list(values)}, description=description)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Money(Response):
    """Integer cents and an ISO 4217 code."""

    amount_cents: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Tenant(Response):
    id: uuid.UUID
    name: str
    timezone: str
    forward_to: str
    phone_number: str | None


class Membership(Response):
    tenant_id: uuid.UUID
    role: Role
    default: bool


class Me(Response):
    clerk_user_id: str
    user_id: uuid.UUID | None
    email: str | None
    name: str | None
    role: Role
    tenant: Tenant | None
    memberships: list[Membership]


class Conversation(Response):
    id: uuid.UUID
    caller: str
    caller_name: str | None = Field(
        description="the caller's name for the tenant (typed by staff, or caller ID's); null when none is on record"
    )
    state: str = one_of(CONVERSATION_STATES)
    human_user_id: uuid.UUID | None
    human_lease_expires_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class ConversationPage(Response):
    items: list[Conversation]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last one")


class Message(Response):
    id: uuid.UUID
    direction: Literal["in", "out"]
    purpose: str | None
    from_number: str | None
    to_number: str | None
    body: str
    status: str = one_of(MESSAGE_STATUSES)
    error_code: str | None
    preflight: dict[str, Any] | None = Field(description="the send preflight's verdict: sent, or which gate closed")
    created_at: datetime
    queued_at: datetime | None


class ConversationDetail(Conversation):
    messages: list[Message]


class OperatorTask(Response):
    id: uuid.UUID
    kind: str
    conversation_id: uuid.UUID | None
    subject_ref: str | None
    note: str | None
    status: Literal["open", "done"]
    created_at: datetime
    done_at: datetime | None


class OperatorTaskList(Response):
    items: list[OperatorTask]


class CampaignProvider(Response):
    linked: bool
    status: str | None
    checked_at: datetime | None


class Campaign(Response):
    id: uuid.UUID | None
    status: str = Field(description="the carrier's verdict: pending, approved or rejected")
    status_reason: str | None
    use_case: str | None
    description: str | None
    message_samples: list[str]
    message_flow: str | None
    submitted_at: datetime | None
    updated_at: datetime | None
    provider: CampaignProvider


class Brand(Response):
    legal_name: str
    ein: str | None


class Compliance(Response):
    campaign: Campaign
    brand: Brand | None
    sms_allowed: bool
    blocked_reason: Literal["campaign_not_approved"] | None
    active_opt_outs: int = Field(ge=0)


class Member(Response):
    user_id: uuid.UUID
    clerk_user_id: str
    email: str | None
    role: Role
    mobile: str | None


class MemberList(Response):
    items: list[Member]


class Invitation(Response):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: Role
    mobile: str | None
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "expired", "accepted", "revoked"]


class InvitationList(Response):
    items: list[Invitation]


class IssuedInvitation(Invitation):
    token: str = Field(description="shown in this response only; the invitee accepts with it")


class Acceptance(Response):
    invitation_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    default: bool


class FeatureGates(Response):
    plan: str | None
    subscription_status: str | None
    gates: dict[str, bool]
    grace_ends_at: datetime | None


class LifecycleSettings(Response):
    reminder_offsets_minutes: list[int] = Field(description="minutes before the start, largest first")
    follow_up_delay_minutes: int | None = Field(description="null: no follow-up")
    first_sms_quiet_hours: Literal["send", "defer"]


class CallSettings(Response):
    callback_grace_seconds: int = Field(
        ge=0,
        le=120,
        description="Seconds the first SMS waits for a callback (an answered re-call or a staff call"
        " through the business's Twilio number); 0 sends it at once",
    )


class Subscription(Response):
    stripe_subscription_id: str
    plan: str
    status: str
    current_period_end: datetime | None


class SubscriptionState(Response):
    subscription: Subscription | None


class ServiceItem(Response):
    id: uuid.UUID
    name: str
    description: str | None
    duration_minutes: int = Field(ge=1)
    price: Money
    active: bool
    aliases: list[str]
    created_at: datetime | None
    updated_at: datetime | None


class ServiceItemList(Response):
    items: list[ServiceItem]


class ServiceMatch(Response):
    service_item_id: uuid.UUID
    name: str
    duration_minutes: int
    price: Money
    confidence: float
    matched: str = Field(description="the name or alias that matched best")


class ServiceMatchList(Response):
    items: list[ServiceMatch]


class DailyReport(Response):
    day: date
    missed_calls: int
    conversations: int
    first_responses: int
    first_response_p50_ms: float | None
    first_response_p95_ms: float | None
    bookings: int
    recovered_revenue_cents: int
    opt_outs: int
    takeovers: int


class ReportTotals(Response):
    from_: date = Field(alias="from")
    to: date
    missed_calls: int
    conversations: int
    bookings: int
    recovered_revenue_cents: int
    opt_outs: int
    takeovers: int
    first_responses: int
    first_response_p50_ms: float | None
    first_response_p95_ms: float | None


class Report(Response):
    tenant_id: uuid.UUID
    days: list[DailyReport]
    totals: ReportTotals
