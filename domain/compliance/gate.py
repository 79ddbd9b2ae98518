"""The one send preflight. Every outbound SMS is decided here, and only here.

``check_outbound`` reads the facts (campaign status, active opt-out) and returns a ``Decision``. A ``Decision`` can
only be built by this module (its constructor demands a private key), it is bound to one tenant and one recipient,
and ``require_allowed`` is what a sender calls with it: so a sender that takes a ``Decision`` cannot be reached for a
message the gate did not allow.

Reasons are stable machine codes, stored on the message (``conv_messages.preflight``) and shown by the API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

Reason = Literal["campaign_not_approved", "opted_out", "feature_disabled", "conversation_blocked"]
REASONS: tuple[Reason, ...] = ("campaign_not_approved", "opted_out", "feature_disabled", "conversation_blocked")
SEND_GATE = "sms"
# Carrier rules allow exactly one confirmation after STOP; it must leave within this window of the opt-out.
OPT_OUT_CONFIRMATION_WINDOW = timedelta(minutes=10)

_MINT = object()
# A per-process secret seals each Decision, so a copied or mutated Decision (dataclasses.replace, setattr) is refused.
_SEAL_KEY = secrets.token_bytes(32)


class GateViolation(RuntimeError):
    """A send was attempted without an allowing Decision for exactly this tenant and recipient."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason | None
    tenant_id: uuid.UUID
    to_number: str
    decided_at: datetime
    key: InitVar[object] = None
    _seal: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self, key: object) -> None:
        if key is not _MINT:
            raise GateViolation("a Decision is only made by domain.compliance.gate.check_outbound")
        object.__setattr__(self, "_seal", self._expected_seal())

    def _expected_seal(self) -> str:
        facts = f"{self.allowed}|{self.reason}|{self.tenant_id}|{self.to_number}|{self.decided_at.isoformat()}"
        return hmac.new(_SEAL_KEY, facts.encode(), hashlib.sha256).hexdigest()

    def is_genuine(self) -> bool:
        return hmac.compare_digest(self._seal, self._expected_seal())

    def as_record(self) -> dict[str, Any]:
        """What is stored on the message row, so operators see why it was (not) sent."""
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat(),
        }


def decide(
    *,
    tenant_id: uuid.UUID,
    to_number: str,
    campaign_status: str | None,
    opted_out: bool,
    conversation_state: str | None,
    feature_gates: Mapping[str, bool],
    purpose: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """The pure rule. Order matters only for which reason is reported first: the 10DLC gate is the hard one."""
    compliance_message = purpose == "compliance"
    reason: Reason | None = None
    if campaign_status != "approved":
        reason = "campaign_not_approved"
    elif opted_out and not compliance_message:
        reason = "opted_out"
    elif not compliance_message and not feature_gates.get(SEND_GATE, False):
        reason = "feature_disabled"
    elif conversation_state == "blocked" and not compliance_message:
        reason = "conversation_blocked"
    return Decision(
        allowed=reason is None,
        reason=reason,
        tenant_id=tenant_id,
        to_number=to_number,
        decided_at=now or datetime.now(UTC),
        key=_MINT,
    )


# Both facts in one round trip (every outbound message reads them): each is unique per tenant (and recipient), so
# each scalar subquery yields at most one row.
_SEND_FACTS = text(
    """
    SELECT (SELECT status FROM comp_campaigns WHERE tenant_id = :tenant) AS campaign_status,
           (SELECT created_at FROM comp_opt_outs
             WHERE tenant_id = :tenant AND phone = :phone AND revoked_at IS NULL) AS opted_out_at
    """
)


def check_outbound(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    to_number: str,
    conversation_state: str | None,
    feature_gates: Mapping[str, bool],
    purpose: str | None = None,
) -> Decision:
    """Read the campaign and opt-out facts for this tenant and recipient, and decide.

    ``purpose="compliance"`` (the STOP confirmation, a HELP answer) still needs an approved campaign; to an
    opted-out number it may go only within a short window after the opt-out, which is the one confirmation.
    """
    now = datetime.now(UTC)
    campaign_status, opted_out_at = session.execute(_SEND_FACTS, {"tenant": tenant_id, "phone": to_number}).one()
    opted_out = opted_out_at is not None
    if purpose == "compliance" and opted_out_at is not None and now - opted_out_at > OPT_OUT_CONFIRMATION_WINDOW:
        purpose = None  # past the confirmation window a compliance message is just another message
    return decide(
        tenant_id=tenant_id,
        to_number=to_number,
        campaign_status=campaign_status,
        opted_out=opted_out,
        conversation_state=conversation_state,
        feature_gates=feature_gates,
        purpose=purpose,
        now=now,
    )


def require_allowed(decision: object, *, tenant_id: uuid.UUID, to_number: str) -> Decision:
    """The sender's first line: no allowing Decision for this exact tenant and recipient, no send."""
    if not isinstance(decision, Decision) or not decision.is_genuine():
        raise GateViolation("send attempted without a genuine preflight Decision")
    if decision.tenant_id != tenant_id or decision.to_number != to_number:
        raise GateViolation("preflight Decision was made for another tenant or recipient")
    if not decision.allowed:
        raise GateViolation(f"preflight refused this send: {decision.reason}")
    return decision
