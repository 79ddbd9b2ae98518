"""`nmc doctor` against real services: a healthy local deployment passes every check; each kind of problem is one
line that says what to do, and the command exits 1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from db.settings import Settings
from ingress.app import create_app
from ops.doctor import Finding, check_public_url, examine
from tests.support.sandbox_world import ServedApp, World, free_port, sandbox_key_path, world  # noqa: F401
from tests.support.services import SERVER


@pytest.fixture
def deployment(settings: Settings, world: World) -> Iterator[Settings]:  # noqa: F811
    """The test database and Redis, the sandbox as Twilio and Clerk, and a real ingress at PUBLIC_BASE_URL."""
    wired = settings.model_copy(
        update={
            "twilio_api_base_url": world.url,
            "twilio_auth_token": world.settings.twilio_auth_token,
            "clerk_jwks_url": f"{world.url}/.well-known/jwks.json",
        }
    )
    served = ServedApp(create_app(wired))
    try:
        yield wired.model_copy(update={"public_base_url": served.base_url})
    finally:
        served.stop()


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


def test_a_healthy_local_deployment_passes_every_check(deployment: Settings) -> None:
    findings = by_check(examine(deployment))
    assert [name for name, finding in findings.items() if not finding.ok] == []
    assert set(findings) == {"mode", "database", "redis", "twilio", "clerk", "calendars", "public url"}
    assert findings["database"].detail.startswith("reachable, schema at ")
    # Locally the calendar providers are the sandbox's stand-ins, and they know the sandbox's OAuth clients.
    sandbox = deployment.twilio_api_base_url
    assert findings["calendars"].detail == (
        f"google: {sandbox}/google/token knows the OAuth client; "
        f"jobber: {sandbox}/jobber/api/oauth/token knows the OAuth client"
    )


def test_each_problem_is_one_line_naming_it(deployment: Settings) -> None:
    broken = deployment.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            "twilio_account_sid": "AC" + "1" * 32,  # not the sandbox's account: its credentials are refused
            "clerk_jwks_url": f"{deployment.twilio_api_base_url}/no-such-jwks",
            "public_base_url": f"http://127.0.0.1:{free_port()}",
            "google_oauth_client_id": "someone-elses-client",
        }
    )
    findings = by_check(examine(broken))
    assert findings["database"].ok
    assert findings["mode"].ok
    assert findings["redis"].detail.startswith("cannot reach Redis at 127.0.0.1:")
    assert "refused TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN" in findings["twilio"].detail
    assert findings["clerk"].detail.endswith("without signing keys")
    assert findings["public url"].detail.endswith("is the ingress up?")
    assert findings["calendars"].detail.endswith(
        "/google/token refused GOOGLE_OAUTH_CLIENT_ID/GOOGLE_OAUTH_CLIENT_SECRET (401)"
    )
    for finding in findings.values():
        assert "\n" not in finding.line()


def test_a_database_behind_the_code_is_told_to_migrate(deployment: Settings) -> None:
    name = f"nmc_doctor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        empty = deployment.model_copy(update={"database_url": f"{SERVER}/{name}"})
        finding = by_check(examine(empty))["database"]
        assert not finding.ok
        assert finding.detail.startswith("schema at nothing, code expects ")
        assert finding.detail.endswith(": run nmc migrate")
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_calendars_without_an_oauth_client_or_unreachable_are_told(deployment: Settings) -> None:
    none = deployment.model_copy(
        update={
            "google_oauth_client_id": "",
            "jobber_oauth_client_secret": SecretStr(""),
            "jobber_oauth_client_id": "",
        }
    )
    finding = by_check(examine(none))["calendars"]
    assert finding.ok
    assert finding.detail == (
        "google: no OAuth client (a link works until its access token expires); "
        "jobber: no OAuth client (a link works until its access token expires)"
    )
    gone = f"http://127.0.0.1:{free_port()}/token"
    finding = by_check(examine(deployment.model_copy(update={"google_oauth_token_url": gone})))["calendars"]
    assert not finding.ok
    assert finding.detail == f"cannot reach {gone} (ConnectError)"


@pytest.mark.parametrize(
    ("public", "says"),
    [
        ("http://nmc.example.com", "must be https:// in live mode"),
        ("https://127.0.0.1:8000", "is not reachable from the providers"),
        ("https://nmc.internal", "is not reachable from the providers"),
        ("https://10.0.0.5", "is not reachable from the providers"),
    ],
)
def test_live_mode_needs_a_public_https_url(deployment: Settings, public: str, says: str) -> None:
    live = deployment.model_copy(update={"twilio_api_base_url": "", "public_base_url": public})
    assert live.live_mode
    with httpx.Client(timeout=1) as http:
        finding = check_public_url(live, http)
    assert not finding.ok
    assert finding.detail == f"PUBLIC_BASE_URL {public} {says}"
