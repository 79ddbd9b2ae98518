"""The 10DLC registration lifecycle: the tenant submits details, the operator links the provider's campaign, and
the scheduler's poll turns the carrier's verdict into the campaign status.

A tenant can never choose the status. Submitting changed details sends the campaign back to ``pending`` (changed
details are a new review); ``approved`` and ``rejected`` come only from ``poll_pending_campaigns`` (the provider)
or ``service.set_campaign_status`` called by the operator's CLI.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.compliance.models import Brand
from domain.compliance.ports import CampaignRegistry, ProviderCampaign, RegistryUnavailable
from domain.compliance.service import CampaignStatus, ensure_campaign, set_campaign_status
from domain.events.sink import EventSink, RootSink

logger = logging.getLogger("nmc.compliance")

PROVIDER = "provider:twilio"
# Twilio's campaign_status values and what each means for the gate. Anything else is logged and left pending.
PROVIDER_VERDICTS: dict[str, CampaignStatus] = {
    "PENDING": "pending",
    "IN_PROGRESS": "pending",
    "VERIFIED": "approved",
    "FAILED": "rejected",
    "SUSPENDED": "rejected",
    "EXPIRED": "rejected",
}
RESUBMITTED = "details resubmitted for review"


@dataclass(frozen=True)
class CampaignDetails:
    use_case: str
    description: str
    message_samples: tuple[str, ...]
    message_flow: str


def _back_to_pending(session: Session, *, tenant_id: uuid.UUID, submitted_by: str, events: EventSink) -> None:
    """Changed details are reviewed again: the campaign is ``pending`` until the provider (or operator) decides."""
    session.execute(
        text("UPDATE comp_campaigns SET submitted_at = now() WHERE tenant_id = :tenant"), {"tenant": tenant_id}
    )
    set_campaign_status(
        session, tenant_id=tenant_id, status="pending", changed_by=submitted_by, reason=RESUBMITTED, events=events
    )


def submit_campaign(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    details: CampaignDetails,
    submitted_by: str,
    events: EventSink,
) -> bool:
    """Store the tenant's campaign details; True when they changed (and the campaign is now ``pending``)."""
    ensure_campaign(session, tenant_id=tenant_id)
    changed = session.execute(
        text(
            "UPDATE comp_campaigns SET use_case = :use_case, description = :description,"
            " message_samples = CAST(:samples AS jsonb), message_flow = :flow"
            " WHERE tenant_id = :tenant AND (use_case, description, message_samples, message_flow)"
            " IS DISTINCT FROM (:use_case, :description, CAST(:samples AS jsonb), :flow) RETURNING id"
        ),
        {
            "tenant": tenant_id,
            "use_case": details.use_case,
            "description": details.description,
            "samples": json.dumps(list(details.message_samples)),
            "flow": details.message_flow,
        },
    ).first()
    if changed is None:
        return False
    _back_to_pending(session, tenant_id=tenant_id, submitted_by=submitted_by, events=events)
    return True


def submit_brand(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    legal_name: str,
    ein: str | None,
    submitted_by: str,
    events: EventSink,
) -> bool:
    """Create or update the tenant's brand; True when it changed (and the campaign is now ``pending``)."""
    written = session.scalar(
        insert(Brand)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, legal_name=legal_name, ein=ein)
        .on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"legal_name": legal_name, "ein": ein},
            # An unchanged brand is no new review: no row comes back, nothing moves.
            where=text(
                "(comp_brands.legal_name, comp_brands.ein) IS DISTINCT FROM (excluded.legal_name, excluded.ein)"
            ),
        )
        .returning(Brand.id)
    )
    ensure_campaign(session, tenant_id=tenant_id)
    if written is None:
        return False
    session.execute(
        text("UPDATE comp_campaigns SET brand_id = :brand WHERE tenant_id = :tenant"),
        {"brand": written, "tenant": tenant_id},
    )
    _back_to_pending(session, tenant_id=tenant_id, submitted_by=submitted_by, events=events)
    return True


def link_provider_campaign(
    session: Session, *, tenant_id: uuid.UUID, messaging_service_sid: str, campaign_sid: str | None
) -> None:
    """The operator records which Twilio messaging service (and A2P campaign) is this tenant's, so the poll can ask.

    The SID shapes and "one tenant per service and campaign" are Postgres constraints (IntegrityError).
    """
    ensure_campaign(session, tenant_id=tenant_id)
    session.execute(
        text(
            "UPDATE comp_campaigns SET messaging_service_sid = :service, provider_campaign_sid = :campaign,"
            " provider_status = NULL, provider_checked_at = NULL WHERE tenant_id = :tenant"
        ),
        {"tenant": tenant_id, "service": messaging_service_sid, "campaign": campaign_sid},
    )


def _reason(found: ProviderCampaign) -> str | None:
    if found.errors:
        return "; ".join(found.errors)[:500]
    return None if found.campaign_status == "VERIFIED" else f"twilio campaign_status {found.campaign_status}"


def poll_pending_campaigns(session: Session, now: datetime, *, registry: CampaignRegistry, limit: int = 100) -> int:
    """Ask the provider about pending campaigns it knows; returns how many statuses changed.

    A verdict the provider last updated before the tenant's latest submission is about the old details, so it does
    not decide the new ones. Idempotent: an unchanged verdict changes nothing and appends no event.
    """
    rows = session.execute(
        text(
            "SELECT tenant_id, messaging_service_sid, provider_campaign_sid, submitted_at FROM comp_campaigns"
            " WHERE status = 'pending' AND messaging_service_sid IS NOT NULL"
            " ORDER BY provider_checked_at NULLS FIRST LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"limit": limit},
    ).all()
    changed = 0
    for row in rows:
        try:
            found = registry.fetch_campaign(
                messaging_service_sid=row.messaging_service_sid, campaign_sid=row.provider_campaign_sid
            )
        except RegistryUnavailable as error:
            logger.warning("10DLC poll: provider unavailable for tenant %s: %s", row.tenant_id, error)
            continue
        ours = found is not None and found.messaging_service_sid == row.messaging_service_sid
        session.execute(
            text(
                "UPDATE comp_campaigns SET provider_checked_at = :now, provider_status = :status,"
                " provider_campaign_sid = COALESCE(provider_campaign_sid, :sid) WHERE tenant_id = :tenant"
            ),
            {
                "now": now,
                "status": found.campaign_status if found is not None and ours else None,
                "sid": found.sid if found is not None and ours else None,
                "tenant": row.tenant_id,
            },
        )
        if found is None or not ours:
            continue
        verdict = PROVIDER_VERDICTS.get(found.campaign_status)
        if verdict is None:
            logger.warning("10DLC poll: unknown campaign_status %r for %s", found.campaign_status, found.sid)
            continue
        if verdict == "pending":
            continue
        submitted = row.submitted_at.replace(microsecond=0) if row.submitted_at else None
        if submitted is not None and found.date_updated is not None and found.date_updated < submitted:
            continue
        previous, _ = set_campaign_status(
            session,
            tenant_id=row.tenant_id,
            status=verdict,
            changed_by=PROVIDER,
            reason=_reason(found),
            provider_ref=found.sid,
            # What the provider decided of one tenant's campaign starts a chain of its own, as a callback would.
            events=RootSink(session),
        )
        changed += previous != verdict
    return changed
