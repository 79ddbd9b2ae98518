import secrets

import pytest

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
