import secrets

import pytest
from pydantic import SecretStr

from db.published_secrets import (
    SANDBOX_GOOGLE_ACCESS_TOKEN,
    SANDBOX_GOOGLE_CLIENT_ID,
    SANDBOX_GOOGLE_CLIENT_SECRET,
    SANDBOX_JOBBER_ACCESS_TOKEN,
    SANDBOX_JOBBER_CLIENT_ID,
    SANDBOX_JOBBER_CLIENT_SECRET,
)
from db.settings import Settings, SettingsError


def test_defaults_point_at_the_local_machine() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/nmc"
    assert settings.hold_ttl_minutes == 15
    assert settings.ai_provider == "builtin"


def test_values_are_parsed_and_typed() -> None:
    settings = Settings.from_env({"OUTBOX_BATCH_SIZE": "50", "CLERK_AUTHORIZED_PARTIES": "https://a, https://b"})
    assert settings.outbox_batch_size == 50
    assert settings.clerk_authorized_parties == ("https://a", "https://b")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OUTBOX_BATCH_SIZE", "many"),
        ("HOLD_TTL_MINUTES", "0"),
        ("DATABASE_URL", "mysql://x/y"),
        ("AI_PROVIDER", "x"),
        ("BROKER_URL", "kafka://127.0.0.1:9092"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^invalid {variable}: "):
        Settings.from_env({variable: value})


def test_empty_twilio_base_url_means_real_twilio() -> None:
    # Secrets of our own, drawn afresh: live mode refuses the published defaults.
    live = {
        name: secrets.token_hex(16) for name in ("TWILIO_AUTH_TOKEN", "STRIPE_WEBHOOK_SECRET", "JOBBER_WEBHOOK_SECRET")
    }
    live |= {"TWILIO_API_BASE_URL": "", "CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json"}
    settings = Settings.from_env(live)
    assert settings.twilio_api_base_url == ""
    assert settings.live_mode


LIVE = {
    **{name: secrets.token_hex(16) for name in ("TWILIO_AUTH_TOKEN", "STRIPE_WEBHOOK_SECRET", "JOBBER_WEBHOOK_SECRET")},
    "TWILIO_API_BASE_URL": "",
    "CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json",
}


def test_locally_the_calendar_providers_are_the_sandboxs_stand_ins() -> None:
    settings = Settings.from_env({"TWILIO_API_BASE_URL": "http://sandbox:8010"})
    assert settings.google_calendar_api_url == "http://sandbox:8010/google"
    assert settings.google_oauth_token_endpoint == "http://sandbox:8010/google/token"
    assert settings.jobber_api_url == "http://sandbox:8010/jobber"
    assert settings.jobber_oauth_token_endpoint == "http://sandbox:8010/jobber/api/oauth/token"
    # The sandbox's published token and OAuth clients, so linking and renewing work with nothing configured.
    assert settings.google_calendar_token == SANDBOX_GOOGLE_ACCESS_TOKEN
    assert settings.jobber_token == SANDBOX_JOBBER_ACCESS_TOKEN
    assert settings.google_oauth_client == (SANDBOX_GOOGLE_CLIENT_ID, SANDBOX_GOOGLE_CLIENT_SECRET)
    assert settings.jobber_oauth_client == (SANDBOX_JOBBER_CLIENT_ID, SANDBOX_JOBBER_CLIENT_SECRET)
    # An empty variable is an unset one, as everywhere.
    emptied = Settings.from_env({"GOOGLE_OAUTH_CLIENT_SECRET": "", "GOOGLE_CALENDAR_API_BASE_URL": ""})
    assert emptied.google_oauth_client[1] == SANDBOX_GOOGLE_CLIENT_SECRET
    assert emptied.google_calendar_api_url == "http://127.0.0.1:8010/google"


def test_in_live_mode_the_calendar_providers_are_the_real_ones_and_no_client_is_assumed() -> None:
    settings = Settings.from_env(LIVE)
    assert settings.google_calendar_api_url == "https://www.googleapis.com"
    assert settings.google_oauth_token_endpoint == "https://oauth2.googleapis.com/token"
    assert settings.jobber_api_url == "https://api.getjobber.com"
    assert settings.jobber_oauth_token_endpoint == "https://api.getjobber.com/api/oauth/token"
    assert settings.google_calendar_token == settings.jobber_token == ""
    assert settings.google_oauth_client == settings.jobber_oauth_client == ("", "")


@pytest.mark.parametrize("live", [False, True])
def test_a_calendar_value_given_always_wins(live: bool) -> None:
    own_secret = secrets.token_urlsafe(24)
    given = {
        "GOOGLE_CALENDAR_API_BASE_URL": "https://calendar-proxy.example.com/",
        "JOBBER_API_BASE_URL": "https://jobber-proxy.example.com",
        "GOOGLE_OAUTH_TOKEN_URL": "https://oauth-proxy.example.com/token",
        "JOBBER_OAUTH_TOKEN_URL": "https://jobber-proxy.example.com/api/oauth/token",
        "GOOGLE_OAUTH_CLIENT_ID": "123.apps.googleusercontent.com",
        "GOOGLE_OAUTH_CLIENT_SECRET": own_secret,
    }
    settings = Settings.from_env((LIVE if live else {}) | given)
    assert settings.live_mode is live
    assert settings.google_calendar_api_url == "https://calendar-proxy.example.com"
    assert settings.jobber_api_url == "https://jobber-proxy.example.com"
    assert settings.google_oauth_token_endpoint == "https://oauth-proxy.example.com/token"
    assert settings.jobber_oauth_token_endpoint == "https://jobber-proxy.example.com/api/oauth/token"
    assert settings.google_oauth_client == ("123.apps.googleusercontent.com", own_secret)
    # Given as empty in code (a test's "no OAuth client"), it stays empty, sandbox or not.
    none = settings.model_copy(update={"jobber_oauth_client_id": "", "jobber_oauth_client_secret": SecretStr("")})
    assert none.jobber_oauth_client == ("", "")


def test_the_sandbox_urls_follow_the_sandbox() -> None:
    settings = Settings.from_env({}).model_copy(update={"twilio_api_base_url": "http://127.0.0.1:18010"})
    assert settings.google_calendar_api_url == "http://127.0.0.1:18010/google"
    assert settings.jobber_oauth_token_endpoint == "http://127.0.0.1:18010/jobber/api/oauth/token"
