"""The send preflight as a pure rule, and the sealed Decision a sender must present."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from domain.compliance.gate import Decision, GateViolation, decide, require_allowed

TENANT = uuid.uuid4()
CALLER = "+13105550100"
OPEN = {"sms": True}


def allowed(**overrides: object) -> Decision:
    values: dict[str, object] = {
        "tenant_id": TENANT,
        "to_number": CALLER,
        "campaign_status": "approved",
        "opted_out": False,
        "conversation_state": "open",
        "feature_gates": OPEN,
    }
    values.update(overrides)
    return decide(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"campaign_status": "pending"}, "campaign_not_approved"),
        ({"campaign_status": "rejected"}, "campaign_not_approved"),
        ({"campaign_status": None}, "campaign_not_approved"),
        ({"opted_out": True}, "opted_out"),
        ({"feature_gates": {"sms": False}}, "feature_disabled"),
        ({"feature_gates": {}}, "feature_disabled"),
        ({"conversation_state": "blocked"}, "conversation_blocked"),
        ({"campaign_status": "pending", "opted_out": True}, "campaign_not_approved"),
        # The single opt-out confirmation: compliance messages pass opt-out and blocked, never the 10DLC gate.
        ({"opted_out": True, "conversation_state": "blocked", "purpose": "compliance"}, None),
        ({"campaign_status": "pending", "purpose": "compliance"}, "campaign_not_approved"),
    ],
)
def test_decide_reports_the_first_closed_gate(overrides: dict[str, object], reason: str | None) -> None:
    decision = allowed(**overrides)
    assert decision.reason == reason
    assert decision.allowed is (reason is None)
    assert decision.as_record()["reason"] == reason


def test_a_decision_cannot_be_made_outside_the_gate() -> None:
    with pytest.raises(GateViolation):
        Decision(allowed=True, reason=None, tenant_id=TENANT, to_number=CALLER, decided_at=allowed().decided_at)


def test_a_refusal_cannot_be_turned_into_a_permission() -> None:
    refused = allowed(opted_out=True)
    with pytest.raises(GateViolation):
        dataclasses.replace(refused, allowed=True, reason=None)
    object.__setattr__(refused, "allowed", True)
    object.__setattr__(refused, "reason", None)
    with pytest.raises(GateViolation, match="genuine"):
        require_allowed(refused, tenant_id=TENANT, to_number=CALLER)


def test_require_allowed_binds_the_decision_to_one_tenant_and_recipient() -> None:
    decision = allowed()
    assert require_allowed(decision, tenant_id=TENANT, to_number=CALLER) is decision
    with pytest.raises(GateViolation, match="another"):
        require_allowed(decision, tenant_id=uuid.uuid4(), to_number=CALLER)
    with pytest.raises(GateViolation, match="another"):
        require_allowed(decision, tenant_id=TENANT, to_number="+13105550199")
    with pytest.raises(GateViolation, match="refused this send: opted_out"):
        require_allowed(allowed(opted_out=True), tenant_id=TENANT, to_number=CALLER)
    with pytest.raises(GateViolation):
        require_allowed(None, tenant_id=TENANT, to_number=CALLER)
