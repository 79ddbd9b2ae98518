"""Compliance facts, tenants and feature gates against the real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from domain.compliance import gate, service
from domain.compliance.handlers import record_keyword
from domain.events.catalog import MessageReceived
from domain.events.handling import HandlerContext
from domain.events.outbox import build_envelope
from domain.events.sink import RootSink
from domain.identity import invitations
from domain.identity import service as identity
from domain.identity.service import Conflict, IdentityError
from tests.support.members import join

CALLER = "+13105550100"


def events(session: Session, tenant_id: uuid.UUID) -> list[str]:
    rows = session.execute(
        text("SELECT event_name FROM outbox_events WHERE tenant_id = :t ORDER BY seq"), {"t": tenant_id}
    )
    return [row[0] for row in rows]


def make_tenant(sessions: sessionmaker[Session], number: str = "+13105559000", plan: str = "starter") -> uuid.UUID:
    with transaction(sessions) as session:
        record = identity.create_tenant(
            session,
            name="Ace Plumbing",
            number=number,
            forward_to="310-555-9001",
            timezone="America/Los_Angeles",
            plan=plan,
            events=RootSink(session),
        )
        service.ensure_campaign(session, tenant_id=record.id)
    return record.id


def test_create_tenant_normalises_numbers_and_announces_it(sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions)
    with transaction(sessions) as session:
        found = identity.tenant_by_number(session, "+13105559000")
        assert found is not None
        assert found.id == tenant_id
        assert found.forward_to == "+13105559001"
        assert events(session, tenant_id) == ["nmc.identity.TenantCreated"]
        assert identity.feature_gates_for(session, tenant_id)["sms"] is True
        assert identity.tenant_by_number(session, "+13105559999") is None
    with pytest.raises(Conflict), transaction(sessions) as session:
        identity.create_tenant(
            session,
            name="Other",
            number="+13105559000",
            forward_to="+13105559002",
            timezone="UTC",
            events=RootSink(session),
        )
    with pytest.raises(IdentityError, match="time zone"), transaction(sessions) as session:
        identity.create_tenant(
            session,
            name="X",
            number="+13105559003",
            forward_to="+13105559002",
            timezone="Mars/Base",
            events=RootSink(session),
        )


def test_gate_reads_campaign_and_opt_outs(sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions)

    def check(state: str = "open") -> gate.Decision:
        with transaction(sessions) as session:
            gates = identity.feature_gates_for(session, tenant_id)
            return gate.check_outbound(
                session, tenant_id=tenant_id, to_number=CALLER, conversation_state=state, feature_gates=gates
            )

    assert check().reason == "campaign_not_approved"
    with transaction(sessions) as session:
        assert service.set_campaign_status(
            session, tenant_id=tenant_id, status="approved", changed_by="cli", events=RootSink(session)
        ) == (
            "pending",
            "approved",
        )
        # Setting the same status again changes nothing and says nothing.
        service.set_campaign_status(
            session, tenant_id=tenant_id, status="approved", changed_by="cli", events=RootSink(session)
        )
        assert events(session, tenant_id).count("nmc.compliance.CampaignStatusChanged") == 1
    assert check().allowed
    assert check("blocked").reason == "conversation_blocked"

    with transaction(sessions) as session:
        assert service.record_opt_out(
            session, tenant_id=tenant_id, phone=CALLER, source="keyword", keyword="STOP", events=RootSink(session)
        )
        assert not service.record_opt_out(
            session, tenant_id=tenant_id, phone=CALLER, source="keyword", keyword="STOP", events=RootSink(session)
        )
    assert check().reason == "opted_out"
    with transaction(sessions) as session:
        confirmation = gate.check_outbound(
            session,
            tenant_id=tenant_id,
            to_number=CALLER,
            conversation_state="blocked",
            feature_gates={"sms": True},
            purpose="compliance",
        )
        assert confirmation.allowed  # the single confirmation right after STOP
        session.execute(text("UPDATE comp_opt_outs SET created_at = now() - interval '1 hour'"))
        late = gate.check_outbound(
            session,
            tenant_id=tenant_id,
            to_number=CALLER,
            conversation_state="blocked",
            feature_gates={"sms": True},
            purpose="compliance",
        )
        assert late.reason == "opted_out"
    # Another tenant's opt-out of the same caller does not leak across.
    other = make_tenant(sessions, number="+13105559100")
    with transaction(sessions) as session:
        service.set_campaign_status(
            session, tenant_id=other, status="approved", changed_by="cli", events=RootSink(session)
        )
        decision = gate.check_outbound(
            session, tenant_id=other, to_number=CALLER, conversation_state="open", feature_gates={"sms": True}
        )
        assert decision.allowed

    with transaction(sessions) as session:
        assert service.record_opt_in(
            session, tenant_id=tenant_id, phone=CALLER, keyword="START", events=RootSink(session)
        )
        assert not service.record_opt_in(
            session, tenant_id=tenant_id, phone=CALLER, keyword="YES", events=RootSink(session)
        )
        assert events(session, tenant_id).count("nmc.compliance.OptOutRecorded") == 1
        assert events(session, tenant_id).count("nmc.compliance.OptInRecorded") == 1
    assert check().allowed


def test_inbound_keywords_are_recorded_by_the_handler(sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions)

    def receive(body: str, sid: str) -> None:
        event = MessageReceived(
            message_sid=sid,
            from_number=CALLER,
            to_number="+13105559000",
            body=body,
            num_media=0,
            media_urls=(),
            received_at=datetime.now(UTC),
        )
        with transaction(sessions) as session:
            record_keyword(event, HandlerContext(session, build_envelope(event, tenant_id=tenant_id)))

    receive("  stop ", "SM1")
    receive("leave me alone", "SM2")  # unclear: conversations hands it to a human, compliance records nothing
    receive("YES", "SM3")
    receive("Unstop", "SM4")
    with transaction(sessions) as session:
        rows = session.execute(text("SELECT source, keyword, revoked_at IS NOT NULL FROM comp_opt_outs")).all()
        assert [tuple(row) for row in rows] == [("keyword", "STOP", True)]
        assert events(session, tenant_id)[-2:] == ["nmc.compliance.OptOutRecorded", "nmc.compliance.OptInRecorded"]
        assert not service.is_opted_out(session, tenant_id=tenant_id, phone=CALLER)
    receive("\u200b¡No más mensajes! 🙏", "SM5")  # a clear request in Spanish, decorated as phones send it
    with transaction(sessions) as session:
        active = session.execute(text("SELECT source, keyword FROM comp_opt_outs WHERE revoked_at IS NULL")).one()
        assert tuple(active) == ("keyword", "NO MAS MENSAJES")


def test_past_due_keeps_gates_open_for_the_grace_period(sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions, plan="starter")
    with transaction(sessions) as session:
        assert identity.apply_subscription(
            session, tenant_id=tenant_id, plan="pro", status="active", source_created=100, events=RootSink(session)
        )
        assert identity.feature_gates_for(session, tenant_id)["reporting"] is True
        assert identity.apply_subscription(
            session, tenant_id=tenant_id, plan="pro", status="past_due", source_created=200, events=RootSink(session)
        )
        now = datetime.now(UTC)
        assert identity.feature_gates_for(session, tenant_id, now=now)["sms"] is True
        assert identity.feature_gates_for(session, tenant_id, now=now + timedelta(days=15))["sms"] is False
        # An older fact arriving late changes nothing.
        assert not identity.apply_subscription(
            session, tenant_id=tenant_id, plan="pro", status="canceled", source_created=150, events=RootSink(session)
        )
        assert identity.apply_subscription(
            session, tenant_id=tenant_id, plan="pro", status="canceled", source_created=300, events=RootSink(session)
        )
        assert set(identity.feature_gates_for(session, tenant_id).values()) == {False}
        assert events(session, tenant_id).count("nmc.identity.FeatureGatesChanged") == 3
        # A repeat of the same fact announces nothing.
        assert not identity.apply_subscription(
            session, tenant_id=tenant_id, plan="pro", status="canceled", source_created=300, events=RootSink(session)
        )


def test_the_last_owner_cannot_be_removed_or_demoted(sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions)
    with transaction(sessions) as session:
        owner = join(session, tenant_id=tenant_id, clerk_user_id="user_1", role="OWNER")
        tech = join(session, tenant_id=tenant_id, clerk_user_id="user_2", role="TECH")
        with pytest.raises(Conflict):
            invitations.invite(
                session,
                tenant_id=tenant_id,
                email="user_2@example.test",
                role="TECH",
                ttl=timedelta(hours=1),
                events=RootSink(session),
            )
    with pytest.raises(Conflict), transaction(sessions) as session:
        identity.set_role(session, tenant_id=tenant_id, user_id=owner, role="TECH")
    with pytest.raises(Conflict), transaction(sessions) as session:
        identity.remove_member(session, tenant_id=tenant_id, user_id=owner, events=RootSink(session))
    with transaction(sessions) as session:
        identity.set_role(session, tenant_id=tenant_id, user_id=tech, role="OWNER")
        identity.remove_member(session, tenant_id=tenant_id, user_id=owner, events=RootSink(session))
        principal = identity.principal_for(session, "user_2")
        assert principal.roles == {tenant_id: "OWNER"}
