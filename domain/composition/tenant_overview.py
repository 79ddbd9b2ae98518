"""A tenant as an operator looks it up (`nmc tenant list`, `nmc tenant show`): identity's tenant, texts, members and
gates, and compliance's campaign, in one record."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.compliance import service as compliance
from domain.identity import service as identity


@dataclass(frozen=True)
class TenantSummary:
    listing: identity.TenantListing
    campaign_status: str

    def as_json(self) -> dict[str, Any]:
        return {
            **self.listing.tenant.as_json(),
            "plan": self.listing.plan,
            "subscription_status": self.listing.subscription_status,
            "campaign_status": self.campaign_status,
            "created_at": self.listing.created_at.isoformat(),
        }


def tenant_directory(session: Session, *, limit: int = 1000) -> list[TenantSummary]:
    listings = identity.list_tenants(session, limit=limit)
    statuses = compliance.campaign_statuses(session, [listing.tenant.id for listing in listings])
    return [TenantSummary(listing, statuses[listing.tenant.id]) for listing in listings]


@dataclass(frozen=True)
class TenantOverview:
    tenant: identity.TenantRecord
    messaging: identity.TenantMessaging
    gates: identity.GateState | None
    campaign: compliance.ComplianceStatus
    members: list[identity.MemberRecord]

    def as_json(self) -> dict[str, Any]:
        gates = self.gates
        return {
            **self.tenant.as_json(),
            "messaging": asdict(self.messaging),
            "plan": gates.plan if gates else None,
            "subscription_status": gates.subscription_status if gates else None,
            "gates": gates.gates if gates else {},
            "past_due_since": gates.past_due_since.isoformat() if gates and gates.past_due_since else None,
            "campaign": {
                "status": self.campaign.campaign_status,
                "reason": self.campaign.status_reason,
                "linked_to_provider": self.campaign.linked_to_provider,
                "active_opt_outs": self.campaign.active_opt_outs,
            },
            "members": [member.as_json() for member in self.members],
        }


def tenant_overview(session: Session, tenant_id: uuid.UUID) -> TenantOverview | None:
    record = identity.get_tenant(session, tenant_id)
    messaging = identity.tenant_messaging(session, tenant_id)
    if record is None or messaging is None:
        return None
    return TenantOverview(
        tenant=record,
        messaging=messaging,
        gates=identity.gate_state(session, tenant_id),
        campaign=compliance.compliance_status(session, tenant_id=tenant_id),
        members=identity.list_members(session, tenant_id),
    )
