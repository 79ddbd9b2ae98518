"""The 10DLC verdict comes from the provider: the scheduler's poll, through the real ``twilio`` SDK against the
sandbox's Messaging v1 ``Compliance/Usa2p`` endpoints, moves a pending campaign, and the gate follows it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from twilio.rest import Client

from db.engine import transaction
from db.settings import Settings
from domain.compliance import gate, registration, service
from domain.events.sink import RootSink
from domain.identity import service as identity
from ops.cli import cli
from ops.commands.compliance import campaign
from ops.jobs import scheduled_jobs
from ops.stack import free_port
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.a2p_registry import TwilioCampaignRegistry
from workers.adapters.twilio_gateway import RebasedHttpClient, TwilioGateway
from workers.scheduler import Scheduler

CALLER = "+13105550100"
DETAILS = registration.CampaignDetails(
    use_case="CUSTOMER_CARE",
    description="Texts back callers whose call we missed and books their service appointment.",
    message_samples=(
        "Sorry we missed your call! What can we help you with today?",
        "You're booked for Tuesday 9am with Sam. Reply STOP to opt out.",
    ),
    message_flow="Callers who ring our number and are not answered get one text; they can reply STOP at any time.",
)


@pytest.fixture
def registry(world: World) -> Iterator[TwilioCampaignRegistry]:  # noqa: F811
    gateway = TwilioGateway(world.settings)
    yield TwilioCampaignRegistry(gateway)
    gateway.close()


def make_tenant(sessions: sessionmaker[Session], number: str) -> uuid.UUID:
    with transaction(sessions) as session:
        record = identity.create_tenant(
            session,
            name="Ace Plumbing",
            number=number,
            forward_to="+13105559001",
            timezone="UTC",
            events=RootSink(session),
        )
        service.ensure_campaign(session, tenant_id=record.id)
        registration.submit_campaign(
            session, tenant_id=record.id, details=DETAILS, submitted_by="user:owner", events=RootSink(session)
        )
    return record.id


def submitted_campaign(world: World, **document: Any) -> dict[str, Any]:  # noqa: F811
    created = world.post("/sandbox/a2p/campaigns", document)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def review(world: World, sid: str, status: str, errors: list[dict[str, Any]] | None = None) -> None:  # noqa: F811
    answer = world.post(f"/sandbox/a2p/campaigns/{sid}", {"campaign_status": status, "errors": errors or []})
    assert answer.status_code == 200, answer.text


def link(sessions: sessionmaker[Session], tenant_id: uuid.UUID, service_sid: str, sid: str | None = None) -> None:
    with transaction(sessions) as session:
        registration.link_provider_campaign(
            session, tenant_id=tenant_id, messaging_service_sid=service_sid, campaign_sid=sid
        )


def poll(sessions: sessionmaker[Session], registry: TwilioCampaignRegistry) -> int:
    with transaction(sessions) as session:
        return registration.poll_pending_campaigns(session, datetime.now(UTC), registry=registry)


def campaign_row(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> Any:
    with transaction(sessions) as session:
        return session.execute(
            text(
                "SELECT status, status_reason, provider_campaign_sid, provider_status, provider_checked_at"
                " FROM comp_campaigns WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()


def status_events(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    with transaction(sessions) as session:
        rows = session.execute(
            text(
                "SELECT schema_version, payload FROM outbox_events"
                " WHERE tenant_id = :t AND event_name = 'nmc.compliance.CampaignStatusChanged' ORDER BY seq"
            ),
            {"t": tenant_id},
        )
        return [{"version": row[0], **row[1]} for row in rows]


def may_text(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> gate.Decision:
    with transaction(sessions) as session:
        return gate.check_outbound(
            session, tenant_id=tenant_id, to_number=CALLER, conversation_state="open", feature_gates={"sms": True}
        )


def test_the_sdk_reads_the_sandbox_in_twilios_wire_format(world: World) -> None:  # noqa: F811
    created = submitted_campaign(world)
    service_sid, sid = created["messaging_service_sid"], created["sid"]
    http = RebasedHttpClient(world.settings.twilio_api_base_url)
    client = Client(
        world.settings.twilio_account_sid, world.settings.twilio_auth_token.get_secret_value(), http_client=http
    )
    try:
        campaigns = client.messaging.v1.services(service_sid).us_app_to_person
        fetched = campaigns(sid).fetch()
        assert (fetched.sid, fetched.messaging_service_sid) == (sid, service_sid)
        assert fetched.campaign_status == "IN_PROGRESS"
        assert fetched.brand_registration_sid.startswith("BN")
        assert fetched.campaign_id is None
        assert fetched.date_updated is not None
        assert fetched.url == f"https://messaging.twilio.com/v1/Services/{service_sid}/Compliance/Usa2p/{sid}"
        review(world, sid, "FAILED", [{"error_code": 30896, "description": "Opt-in flow unclear", "fields": ["x"]}])
        listed = campaigns.list()
        assert [(c.sid, c.campaign_status) for c in listed] == [(sid, "FAILED")]
        assert listed[0].errors[0]["error_code"] == 30896
        review(world, sid, "VERIFIED")
        verified = campaigns(sid).fetch()
        assert verified.campaign_status == "VERIFIED"
        assert verified.campaign_id is not None
        assert verified.campaign_id.startswith("C")
        assert client.messaging.v1.services("MG" + "0" * 32).us_app_to_person.list() == []
    finally:
        http.close()
    # The Twilio endpoints want the account's credentials; the reviewer refuses nonsense.
    raw = httpx.get(f"{world.url}/v1/Services/{service_sid}/Compliance/Usa2p", auth=("AC" + "1" * 32, "wrong"))
    assert raw.status_code == 401
    assert raw.json()["code"] == 20003
    for bad in (
        {"campaign_status": "APPROVED"},
        {"campaign_status": "FAILED", "errors": "no"},
        {"campaign_status": "FAILED", "errors": [{"error_code": "x"}]},
    ):
        assert world.post(f"/sandbox/a2p/campaigns/{sid}", bad).status_code == 400
    not_json = world.http.post(
        f"{world.url}/sandbox/a2p/campaigns/{sid}", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert world.post("/sandbox/a2p/campaigns/QE" + "0" * 32, {"campaign_status": "VERIFIED"}).status_code == 404
    assert world.post("/sandbox/a2p/campaigns", {"messaging_service_sid": "nope"}).status_code == 400
    assert world.post("/sandbox/a2p/campaigns", {"messaging_service_sid": service_sid}).status_code == 400


def test_the_poll_approves_a_verified_campaign_and_the_gate_opens(
    world: World,  # noqa: F811
    sessions: sessionmaker[Session],
    registry: TwilioCampaignRegistry,
) -> None:
    tenant_id = make_tenant(sessions, "+13105552000")
    created = submitted_campaign(world)
    link(sessions, tenant_id, created["messaging_service_sid"])  # the campaign SID is learned by listing

    assert poll(sessions, registry) == 0
    row = campaign_row(sessions, tenant_id)
    assert (row.status, row.provider_campaign_sid, row.provider_status) == ("pending", created["sid"], "IN_PROGRESS")
    assert row.provider_checked_at is not None
    assert may_text(sessions, tenant_id).reason == "campaign_not_approved"

    review(world, created["sid"], "VERIFIED")
    assert poll(sessions, registry) == 1
    assert campaign_row(sessions, tenant_id).status == "approved"
    assert may_text(sessions, tenant_id).allowed is True
    [changed] = status_events(sessions, tenant_id)
    assert changed == {
        "version": 2,
        "campaign_id": changed["campaign_id"],
        "previous_status": "pending",
        "status": "approved",
        "changed_by": "provider:twilio",
        "provider_ref": created["sid"],
        "reason": None,
    }
    # Idempotent: polling again (the campaign is no longer pending) writes nothing.
    assert poll(sessions, registry) == 0
    assert len(status_events(sessions, tenant_id)) == 1


def test_the_poll_rejects_a_failed_campaign_and_the_gate_stays_closed(
    world: World,  # noqa: F811
    sessions: sessionmaker[Session],
    registry: TwilioCampaignRegistry,
) -> None:
    tenant_id = make_tenant(sessions, "+13105552100")
    created = submitted_campaign(world)
    link(sessions, tenant_id, created["messaging_service_sid"], created["sid"])
    errors = [{"error_code": 30896, "description": "Opt-in flow unclear", "fields": ["message_flow"]}]
    review(world, created["sid"], "FAILED", errors)

    assert poll(sessions, registry) == 1
    row = campaign_row(sessions, tenant_id)
    assert row.status == "rejected"
    assert row.status_reason == "30896: Opt-in flow unclear (message_flow)"
    assert may_text(sessions, tenant_id).reason == "campaign_not_approved"
    [changed] = status_events(sessions, tenant_id)
    assert (changed["status"], changed["provider_ref"], changed["changed_by"]) == (
        "rejected",
        created["sid"],
        "provider:twilio",
    )
    assert poll(sessions, registry) == 0
    assert len(status_events(sessions, tenant_id)) == 1


def test_a_verdict_older_than_the_latest_submission_does_not_decide_it(
    world: World,  # noqa: F811
    sessions: sessionmaker[Session],
    registry: TwilioCampaignRegistry,
) -> None:
    tenant_id = make_tenant(sessions, "+13105552200")
    created = submitted_campaign(world)
    review(world, created["sid"], "VERIFIED")
    link(sessions, tenant_id, created["messaging_service_sid"], created["sid"])
    with transaction(sessions) as session:
        # The tenant changed its details after the carrier's review: that review is about the old ones.
        session.execute(
            text("UPDATE comp_campaigns SET submitted_at = now() + interval '1 hour' WHERE tenant_id = :t"),
            {"t": tenant_id},
        )
    assert poll(sessions, registry) == 0
    assert campaign_row(sessions, tenant_id).status == "pending"
    assert status_events(sessions, tenant_id) == []


def test_an_unreachable_or_unknown_provider_campaign_changes_nothing(
    world: World,  # noqa: F811
    sessions: sessionmaker[Session],
    registry: TwilioCampaignRegistry,
) -> None:
    tenant_id = make_tenant(sessions, "+13105552300")
    other = make_tenant(sessions, "+13105552301")
    link(sessions, tenant_id, "MG" + "a" * 32, "QE" + "b" * 32)  # Twilio answers 404
    created = submitted_campaign(world)
    review(world, created["sid"], "VERIFIED")
    link(sessions, other, created["messaging_service_sid"])
    down = TwilioGateway(world.settings.model_copy(update={"twilio_api_base_url": f"http://127.0.0.1:{free_port()}"}))
    try:
        assert poll(sessions, TwilioCampaignRegistry(down)) == 0
    finally:
        down.close()
    assert campaign_row(sessions, other).status == "pending"
    assert campaign_row(sessions, other).provider_checked_at is None  # asked again at the next tick
    assert poll(sessions, registry) == 1
    assert campaign_row(sessions, tenant_id).status == "pending"
    assert campaign_row(sessions, tenant_id).provider_status is None
    assert campaign_row(sessions, other).status == "approved"


def test_the_scheduler_job_polls_through_the_configured_gateway(
    world: World,  # noqa: F811
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    tenant_id = make_tenant(sessions, "+13105552400")
    created = submitted_campaign(world)
    review(world, created["sid"], "VERIFIED")
    link(sessions, tenant_id, created["messaging_service_sid"])
    configured = settings.model_copy(update={"twilio_api_base_url": world.url, "campaign_poll_interval_seconds": 5})
    jobs = {job.name: job for job in scheduled_jobs(configured, sessions)}
    job = jobs["poll_campaign_statuses"]
    assert job.every_seconds == 5
    assert Scheduler(sessions, [job]).run_job(job) == 1
    assert campaign_row(sessions, tenant_id).status == "approved"


def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    if "campaign" not in cli.commands:
        cli.add_command(campaign)
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_the_operator_links_a_campaign_from_the_cli(settings: Settings, sessions: sessionmaker[Session]) -> None:
    tenant_id = make_tenant(sessions, "+13105552500")
    make_tenant(sessions, "+13105552501")
    service_sid, sid = "MG" + "1" * 32, "QE" + "2" * 32
    code, out = run_cli(
        settings, "campaign", "link", "--tenant", "+13105552500", "--messaging-service", service_sid, "--campaign", sid
    )
    assert code == 0, out
    assert json.loads(out) == {
        "tenant_id": str(tenant_id),
        "messaging_service_sid": service_sid,
        "campaign_sid": sid,
        "status": "pending",
    }
    code, out = run_cli(settings, "campaign", "link", "--tenant", "+13105552501", "--messaging-service", service_sid)
    assert code != 0
    assert "already linked to another tenant" in out
    code, out = run_cli(settings, "campaign", "link", "--tenant", "+13105552501", "--messaging-service", "MG123")
    assert code != 0
    assert "not a Messaging Service SID" in out
    assert "Traceback" not in out
    code, out = run_cli(settings, "campaign", "link", "--tenant", "+19995550000", "--messaging-service", service_sid)
    assert code != 0
    assert "no tenant" in out
