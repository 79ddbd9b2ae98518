"""Compliance writes: opt-outs, opt-ins and the 10DLC campaign status. Each change appends its event in the caller's
transaction, and every statement is one atomic upsert or update so concurrent callers cannot race past it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.compliance.models import CAMPAIGN_STATUSES, Brand, Campaign, OptOut
from domain.events.catalog import CampaignStatusChanged, OptInRecorded, OptOutRecorded
from domain.events.sink import EventSink

OptOutSource = Literal["keyword", "provider_21610", "operator"]
CampaignStatus = Literal["pending", "approved", "rejected"]


class UnknownCampaignStatus(ValueError):
    pass


def record_opt_out(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    phone: str,
    source: OptOutSource,
    keyword: str | None = None,
    message_ref: str | None = None,
    events: EventSink,
) -> bool:
    """Record that ``phone`` opted out of ``tenant_id``; True (and ``OptOutRecorded``) only the first time."""
    inserted = session.scalar(
        insert(OptOut)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, phone=phone, source=source, keyword=keyword)
        .on_conflict_do_nothing(index_elements=["tenant_id", "phone"], index_where=text("revoked_at IS NULL"))
        .returning(OptOut.id)
    )
    if inserted is None:
        return False
    events.emit(
        OptOutRecorded(phone=phone, source=source, keyword=keyword, message_ref=message_ref), tenant_id=tenant_id
    )
    return True


def record_opt_in(session: Session, *, tenant_id: uuid.UUID, phone: str, keyword: str, events: EventSink) -> bool:
    """Revoke an active opt-out; True (and ``OptInRecorded``) only when there was one.

    A "YES" from a caller who never opted out is an ordinary answer, not an opt-in: nothing is recorded.
    """
    revoked = session.execute(
        text(
            "UPDATE comp_opt_outs SET revoked_at = now()"
            " WHERE tenant_id = :tenant AND phone = :phone AND revoked_at IS NULL RETURNING id"
        ),
        {"tenant": tenant_id, "phone": phone},
    ).first()
    if revoked is None:
        return False
    events.emit(OptInRecorded(phone=phone, keyword=keyword), tenant_id=tenant_id)
    return True


def is_opted_out(session: Session, *, tenant_id: uuid.UUID, phone: str, at: datetime | None = None) -> bool:
    """Opted out now; with ``at``, also when an opt-out was revoked at or after ``at``.

    The inbound handlers of one message run independently: by the time the conversation asks about a "YES", the
    compliance handler may already have revoked the opt-out that very "YES" ended. Asking as of the message's arrival
    gives the same answer in either order.
    """
    still = OptOut.revoked_at.is_(None) if at is None else or_(OptOut.revoked_at.is_(None), OptOut.revoked_at >= at)
    found = session.scalar(select(OptOut.id).where(OptOut.tenant_id == tenant_id, OptOut.phone == phone, still))
    return found is not None


def ensure_campaign(session: Session, *, tenant_id: uuid.UUID) -> None:
    """Every tenant has exactly one campaign row, ``pending`` until someone approves it."""
    session.execute(
        insert(Campaign)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, status="pending")
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )


def set_campaign_status(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    status: str,
    changed_by: str,
    reason: str | None = None,
    provider_ref: str | None = None,
    events: EventSink,
) -> tuple[str | None, str]:
    """Set the campaign status; ``CampaignStatusChanged`` when it actually changed. Returns (previous, current).

    Only the provider poll, the operator's CLI and a tenant's resubmission (to ``pending`` only, see
    ``registration``) call this; no tenant-facing code passes a status through.
    """
    if status not in CAMPAIGN_STATUSES:
        raise UnknownCampaignStatus(f"campaign status must be one of {', '.join(CAMPAIGN_STATUSES)}")
    ensure_campaign(session, tenant_id=tenant_id)
    row = session.execute(
        text(
            "WITH old AS (SELECT id, status FROM comp_campaigns WHERE tenant_id = :tenant FOR UPDATE)"
            " UPDATE comp_campaigns c SET status = :status, status_reason = :reason, updated_at = now()"
            " FROM old WHERE c.id = old.id RETURNING c.id, old.status"
        ),
        {"tenant": tenant_id, "status": status, "reason": reason},
    ).one()
    campaign_id, previous = row
    if previous != status:
        events.emit(
            CampaignStatusChanged(
                campaign_id=campaign_id,
                previous_status=previous,
                status=status,  # type: ignore[arg-type]  # checked against CAMPAIGN_STATUSES above
                changed_by=changed_by,
                provider_ref=provider_ref,
                reason=reason,
            ),
            tenant_id=tenant_id,
        )
    return previous, status


@dataclass(frozen=True)
class ComplianceStatus:
    campaign_id: uuid.UUID | None
    campaign_status: str
    status_reason: str | None
    use_case: str | None
    description: str | None
    message_samples: tuple[str, ...]
    message_flow: str | None
    submitted_at: datetime | None
    linked_to_provider: bool
    provider_status: str | None
    provider_checked_at: datetime | None
    updated_at: datetime | None
    brand_legal_name: str | None
    brand_ein: str | None
    active_opt_outs: int

    @property
    def sms_allowed(self) -> bool:
        return self.campaign_status == "approved"


def compliance_status(session: Session, *, tenant_id: uuid.UUID) -> ComplianceStatus:
    campaign = session.scalar(select(Campaign).where(Campaign.tenant_id == tenant_id))
    brand = session.scalar(select(Brand).where(Brand.tenant_id == tenant_id))
    opt_outs = session.scalar(
        text("SELECT count(*) FROM comp_opt_outs WHERE tenant_id = :tenant AND revoked_at IS NULL"),
        {"tenant": tenant_id},
    )
    return ComplianceStatus(
        campaign_id=campaign.id if campaign else None,
        campaign_status=campaign.status if campaign else "pending",
        status_reason=campaign.status_reason if campaign else None,
        use_case=campaign.use_case if campaign else None,
        description=campaign.description if campaign else None,
        message_samples=tuple(campaign.message_samples or ()) if campaign else (),
        message_flow=campaign.message_flow if campaign else None,
        submitted_at=campaign.submitted_at if campaign else None,
        linked_to_provider=bool(campaign and campaign.messaging_service_sid),
        provider_status=campaign.provider_status if campaign else None,
        provider_checked_at=campaign.provider_checked_at if campaign else None,
        updated_at=campaign.updated_at if campaign else None,
        brand_legal_name=brand.legal_name if brand else None,
        brand_ein=brand.ein if brand else None,
        active_opt_outs=int(opt_outs or 0),
    )


def campaign_statuses(session: Session, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each tenant's 10DLC campaign status in one statement ("pending" for a tenant with no campaign row yet)."""
    rows = session.execute(select(Campaign.tenant_id, Campaign.status).where(Campaign.tenant_id.in_(tenant_ids)))
    found: dict[uuid.UUID, str] = {row.tenant_id: row.status for row in rows}
    return {tenant_id: found.get(tenant_id, "pending") for tenant_id in tenant_ids}
