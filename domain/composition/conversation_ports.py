"""The conversations module's small ports over compliance, identity and scheduling: the send preflight, the
inbound keywords and opt-outs, and whether a caller has something booked."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from domain.compliance import gate as compliance_gate
from domain.compliance import keywords as compliance_keywords
from domain.compliance import service as compliance
from domain.conversations.ports import PreflightDecision
from domain.events.sink import EventSink
from domain.identity import service as identity
from domain.scheduling import service as scheduling


class SendGateAdapter:
    """The one send preflight: compliance facts plus the tenant's feature gates."""

    def check(
        self, session: Session, *, tenant_id: uuid.UUID, to_number: str, conversation_state: str | None, purpose: str
    ) -> PreflightDecision:
        return compliance_gate.check_outbound(
            session,
            tenant_id=tenant_id,
            to_number=to_number,
            conversation_state=conversation_state,
            feature_gates=identity.feature_gates_for(session, tenant_id),
            purpose=purpose,
        )


class InboundKeywordsAdapter:
    def classify(self, body: str) -> str:
        return compliance_keywords.classify_inbound(body)

    def is_opted_out(self, session: Session, *, tenant_id: uuid.UUID, phone: str, at: datetime | None = None) -> bool:
        return compliance.is_opted_out(session, tenant_id=tenant_id, phone=phone, at=at)

    def carrier_confirms(self, body: str) -> bool:
        return compliance_keywords.match_inbound(body).keyword in compliance_keywords.OPT_OUT_KEYWORDS

    def record_provider_opt_out(
        self, session: Session, *, tenant_id: uuid.UUID, phone: str, message_ref: str, events: EventSink
    ) -> None:
        compliance.record_opt_out(
            session,
            tenant_id=tenant_id,
            phone=phone,
            source="provider_21610",
            keyword=None,
            message_ref=message_ref,
            events=events,
        )


class AppointmentsAdapter:
    def has_upcoming(self, session: Session, *, tenant_id: uuid.UUID, phone: str, now: datetime) -> bool:
        return bool(scheduling.upcoming_appointments(session, tenant_id=tenant_id, customer_phone=phone, now=now))
