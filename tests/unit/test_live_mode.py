"""Live mode (TWILIO_API_BASE_URL empty) refuses the secrets this repository publishes, and no secret is ever shown."""

from __future__ import annotations

import io
import logging
import re
import secrets
import traceback

import pytest
import structlog
from click.testing import CliRunner

from db.published_secrets import SANDBOX_AI_API_KEY
from db.settings import LIVE_REQUIRED_SECRETS, SECRET_FIELDS, Settings, SettingsError, published_secrets
from ops.cli import _register, cli
from ops.logging import configure_logging

# Secrets of our own, as an operator would make them: drawn afresh, so never published (this file is public too).
OWN = {
    "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_urlsafe(24)}",
    "JOBBER_WEBHOOK_SECRET": secrets.token_urlsafe(24),
    "AI_API_KEY": f"sk-{secrets.token_urlsafe(24)}",
    "GOOGLE_CALENDAR_ACCESS_TOKEN": secrets.token_urlsafe(24),
    "JOBBER_ACCESS_TOKEN": secrets.token_urlsafe(24),
    "GOOGLE_OAUTH_CLIENT_SECRET": secrets.token_urlsafe(24),
    "JOBBER_OAUTH_CLIENT_SECRET": secrets.token_urlsafe(24),
}
OWN_SECRET = "needs your own secret, not empty nor a value published in this repository"


def refusal(variable: str, reason: str = OWN_SECRET) -> str:
    return re.escape(f"invalid {variable}: live mode (TWILIO_API_BASE_URL empty) {reason}") + "$"


LIVE = {**OWN, "TWILIO_API_BASE_URL": "", "CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json"}


def test_live_mode_with_own_secrets_starts() -> None:
    settings = Settings.from_env(LIVE | {"AI_PROVIDER": "openai"})
    assert settings.live_mode
    assert settings.twilio_auth_token.get_secret_value() == OWN["TWILIO_AUTH_TOKEN"]


def test_sandbox_mode_keeps_the_published_defaults() -> None:
    # Local development and the tests run on them: the refusal is for live mode only.
    settings = Settings.from_env({})
    assert not settings.live_mode
    assert settings.twilio_auth_token.get_secret_value() in published_secrets()


@pytest.mark.parametrize("variable", [name.upper() for name in LIVE_REQUIRED_SECRETS])
def test_live_mode_refuses_a_missing_or_empty_secret(variable: str) -> None:
    for environ in ({key: value for key, value in LIVE.items() if key != variable}, LIVE | {variable: ""}):
        with pytest.raises(SettingsError, match=refusal(variable)) as refused:
            Settings.from_env(environ)
        assert "\n" not in str(refused.value)


@pytest.mark.parametrize("variable", [name.upper() for name in SECRET_FIELDS])
@pytest.mark.parametrize("published", sorted(published_secrets()))
def test_live_mode_refuses_every_published_value(variable: str, published: str) -> None:
    with pytest.raises(SettingsError, match=refusal(variable)):
        Settings.from_env(LIVE | {variable: published, "AI_PROVIDER": "openai"})


def test_live_mode_refuses_a_published_value_whatever_its_case_or_padding() -> None:
    with pytest.raises(SettingsError, match=refusal("STRIPE_WEBHOOK_SECRET")):
        Settings.from_env(LIVE | {"STRIPE_WEBHOOK_SECRET": "  WHSEC_SANDBOX_CHANGE_ME "})


def test_live_mode_with_openai_needs_an_ai_key() -> None:
    without_key = {key: value for key, value in LIVE.items() if key != "AI_API_KEY"}
    with pytest.raises(SettingsError, match=refusal("AI_API_KEY")):
        Settings.from_env(without_key | {"AI_PROVIDER": "openai"})
    # The built-in engine calls nobody: no key needed.
    assert Settings.from_env(without_key | {"AI_PROVIDER": "builtin"}).ai_api_key.get_secret_value() == ""


def test_optional_calendar_tokens_and_oauth_clients_may_stay_empty_in_live_mode() -> None:
    optional = (
        "GOOGLE_CALENDAR_ACCESS_TOKEN",
        "JOBBER_ACCESS_TOKEN",
        "GOOGLE_OAUTH_CLIENT_SECRET",
        "JOBBER_OAUTH_CLIENT_SECRET",
    )
    settings = Settings.from_env({k: v for k, v in LIVE.items() if k not in optional})
    assert settings.jobber_access_token.get_secret_value() == ""
    assert settings.google_oauth_client_secret.get_secret_value() == ""
    assert settings.google_oauth_client == ("", "")
    assert settings.google_oauth_token_endpoint == "https://oauth2.googleapis.com/token"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "needs an https:// URL"),  # unset: the default is the sandbox over http
        ("http://clerk.example.com/.well-known/jwks.json", "needs an https:// URL"),
        ("https:///.well-known/jwks.json", "needs an https:// URL"),
        ("https://clerk.example.com:port/.well-known/jwks.json", "needs an https:// URL"),
        ("https://clerk.example.com:99999/.well-known/jwks.json", "needs an https:// URL"),
        ("https://sandbox:8010/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://127.0.0.1/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://localhost:8443/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://clerk.nmc.localhost/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://[::1]/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://0.0.0.0/.well-known/jwks.json", "refuses the sandbox's address"),
        ("https://10.0.0.5:8010/.well-known/jwks.json", "refuses the sandbox's address"),  # SANDBOX_BIND below
    ],
)
def test_live_mode_refuses_a_jwks_url_that_is_not_https_or_is_the_sandbox(url: str, reason: str) -> None:
    environ = LIVE | {"CLERK_JWKS_URL": url, "SANDBOX_BIND": "10.0.0.5:8010"}
    with pytest.raises(SettingsError, match=refusal("CLERK_JWKS_URL", reason)):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    "variable",
    ["GOOGLE_CALENDAR_API_BASE_URL", "JOBBER_API_BASE_URL", "GOOGLE_OAUTH_TOKEN_URL", "JOBBER_OAUTH_TOKEN_URL"],
)
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1:8010/google", "refuses the sandbox's address"),
        ("https://sandbox:8010/jobber", "refuses the sandbox's address"),
        ("https://10.0.0.5:8010/google/token", "refuses the sandbox's address"),  # SANDBOX_BIND below
        ("http://www.googleapis.com", "needs an https:// URL"),
    ],
)
def test_live_mode_refuses_a_calendar_url_that_is_the_sandbox(variable: str, url: str, reason: str) -> None:
    # Live bookings must never be written to, nor tokens renewed at, the stand-ins.
    with pytest.raises(SettingsError, match=refusal(variable, reason)):
        Settings.from_env(LIVE | {variable: url, "SANDBOX_BIND": "10.0.0.5:8010"})
    assert Settings.from_env(LIVE | {variable: "https://calendar-proxy.example.com"}).live_mode


def test_the_ai_url_and_key_resolve_like_the_calendar_ones() -> None:
    # Locally, empty: the sandbox's chat-completions stand-in with its published key; in live mode OpenAI's API.
    local = Settings.from_env({})
    assert local.ai_api_url == "http://127.0.0.1:8010/ai/v1"
    assert local.ai_key == SANDBOX_AI_API_KEY
    elsewhere = Settings.from_env({"AI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert (elsewhere.ai_api_url, elsewhere.ai_key) == ("http://127.0.0.1:11434/v1", "")  # no sandbox key elsewhere
    live = Settings.from_env(LIVE | {"AI_PROVIDER": "openai"})
    assert live.ai_api_url == "https://api.openai.com/v1"
    assert live.ai_key == OWN["AI_API_KEY"]
    proxied = Settings.from_env(LIVE | {"AI_PROVIDER": "openai", "AI_BASE_URL": "https://llm-gateway.example.com/v1"})
    assert proxied.ai_api_url == "https://llm-gateway.example.com/v1"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://api.openai.com/v1", "needs an https:// URL"),
        ("https://127.0.0.1:8010/ai/v1", "refuses the sandbox's address"),
        ("https://sandbox:8010/ai/v1", "refuses the sandbox's address"),
        ("https://localhost:8020/v1", "refuses the sandbox's address"),
        ("https://[::1]/v1", "refuses the sandbox's address"),
        ("https://10.0.0.5:8010/ai/v1", "refuses the sandbox's address"),  # SANDBOX_BIND below
    ],
)
def test_live_mode_with_openai_refuses_an_ai_url_that_is_not_https_or_is_the_sandbox(url: str, reason: str) -> None:
    environ = LIVE | {"AI_PROVIDER": "openai", "AI_BASE_URL": url, "SANDBOX_BIND": "10.0.0.5:8010"}
    with pytest.raises(SettingsError, match=refusal("AI_BASE_URL", reason)):
        Settings.from_env(environ)
    # The built-in engine calls no model: an unused URL is no risk.
    assert Settings.from_env(environ | {"AI_PROVIDER": "builtin"}).live_mode


def test_live_mode_with_openai_refuses_the_sandbox_stand_ins_key() -> None:
    with pytest.raises(SettingsError, match=refusal("AI_API_KEY")):
        Settings.from_env(LIVE | {"AI_PROVIDER": "openai", "AI_API_KEY": SANDBOX_AI_API_KEY})


def _logged(settings: Settings) -> str:
    """What the process's own JSON logging writes for a settings object, logged both ways."""
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    configure_logging(Settings.from_env({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}), "worker", stream=buffer)
    try:
        logging.getLogger("nmc.test").warning("settings %s %r", settings, settings)
        structlog.get_logger("nmc.test").warning("settings", settings=settings, fields=settings.model_dump())
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
    return buffer.getvalue()


def test_no_secret_appears_in_repr_str_logs_or_dumps() -> None:
    settings = Settings.from_env(LIVE)
    shown = "\n".join([repr(settings), str(settings), f"{settings}", _logged(settings), settings.model_dump_json()])
    assert "twilio_auth_token" in shown  # the field is there, masked
    for value in OWN.values():
        assert value not in shown


def test_no_secret_appears_in_a_settings_error_or_its_traceback() -> None:
    # A bad value next to the secrets, and a live refusal of a published one: neither message carries a secret.
    for environ in (LIVE | {"OUTBOX_BATCH_SIZE": "many"}, LIVE | {"JOBBER_WEBHOOK_SECRET": "whsec_sandbox_change_me"}):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env(environ)
        rendered = "".join(traceback.format_exception(refused.value)) + repr(refused.value)
        for value in (*OWN.values(), "whsec_sandbox_change_me"):
            assert value not in rendered


def test_a_validation_error_never_echoes_its_input() -> None:
    # Settings' own ValidationError (e.g. from a direct model_validate) hides inputs, secrets among them.
    with pytest.raises(ValueError) as refused:
        Settings.model_validate({"twilio_auth_token": OWN["TWILIO_AUTH_TOKEN"], "outbox_batch_size": "many"})
    assert OWN["TWILIO_AUTH_TOKEN"] not in str(refused.value)


@pytest.fixture
def commands() -> None:
    if "ingress" not in cli.commands:
        _register()


@pytest.mark.usefixtures("commands")
@pytest.mark.parametrize(
    "argv",
    [
        ["ingress"],
        ["dispatcher"],
        ["worker"],
        ["scheduler"],
        ["sandbox"],
        ["up", "--no-demo"],
        ["migrate"],
        ["status"],
        ["retention", "run", "--dry-run"],
    ],
)
def test_every_process_refuses_to_start_in_live_mode_with_a_published_secret(argv: list[str]) -> None:
    environ = LIVE | {"TWILIO_AUTH_TOKEN": "sandbox-auth-token-change-me-000"}
    result = CliRunner().invoke(cli, argv, env=environ)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"Error: invalid TWILIO_AUTH_TOKEN: live mode (TWILIO_API_BASE_URL empty) {OWN_SECRET}"
    ]


@pytest.mark.usefixtures("commands")
def test_the_sandbox_refuses_live_mode_even_with_own_secrets() -> None:
    # With live secrets it would sign Twilio and Stripe webhooks that the live ingress accepts.
    result = CliRunner().invoke(cli, ["sandbox"], env=LIVE)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: the sandbox does not run in live mode (TWILIO_API_BASE_URL empty): "
        "it would sign webhooks and mint sign-in tokens with the live secrets"
    ]


def test_nmc_up_starts_no_sandbox_in_live_mode() -> None:
    from ops.commands.up import PROCESS_ORDER, processes_to_start

    available = set(PROCESS_ORDER)
    assert processes_to_start(Settings.from_env({}), available) == list(PROCESS_ORDER)
    assert processes_to_start(Settings.from_env(LIVE), available) == ["ingress", "dispatcher", "worker", "scheduler"]
