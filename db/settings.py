"""The one typed settings object, read from the environment once at process start and passed in.

It lives in ``db`` because ``db`` is the bottom layer: every other package may import the type. Nothing reads the
environment at import time; ``Settings.from_env()`` is called by the CLI (and by tests with their own mapping).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from db.published_secrets import (
    PUBLISHED_SECRET_LITERALS,
    SANDBOX_AI_API_KEY,
    SANDBOX_CREDENTIALS_KEY,
    SANDBOX_GOOGLE_ACCESS_TOKEN,
    SANDBOX_GOOGLE_CLIENT_ID,
    SANDBOX_GOOGLE_CLIENT_SECRET,
    SANDBOX_JOBBER_ACCESS_TOKEN,
    SANDBOX_JOBBER_CLIENT_ID,
    SANDBOX_JOBBER_CLIENT_SECRET,
)

# Fields that hold a secret: SecretStr, so no repr, log line or error shows them; unwrapped only where used.
SECRET_FIELDS = (
    "twilio_auth_token",
    "stripe_webhook_secret",
    "jobber_webhook_secret",
    "ai_api_key",
    "google_calendar_access_token",
    "jobber_access_token",
    "calendar_credentials_key",
    "google_oauth_client_secret",
    "jobber_oauth_client_secret",
)
# The calendar credentials key is a secret the Fernet key is derived from (HKDF-SHA256): long and random.
MIN_CREDENTIALS_KEY_CHARS = 32
# The calendar providers' addresses, when given: live mode refuses the sandbox's.
CALENDAR_URL_FIELDS = (
    "google_calendar_api_base_url",
    "jobber_api_base_url",
    "google_oauth_token_url",
    "jobber_oauth_token_url",
)
REAL_GOOGLE_CALENDAR_API = "https://www.googleapis.com"
REAL_JOBBER_API = "https://api.getjobber.com"
REAL_GOOGLE_OAUTH_TOKEN_URL = "https://oauth2.googleapis.com/token"
REAL_JOBBER_OAUTH_TOKEN_URL = "https://api.getjobber.com/api/oauth/token"
REAL_OPENAI_API = "https://api.openai.com/v1"
# Live mode cannot verify a webhook without these, so an empty one is refused as firmly as a published one.
LIVE_REQUIRED_SECRETS = ("twilio_auth_token", "stripe_webhook_secret", "jobber_webhook_secret")


class SettingsError(Exception):
    """A bad environment value, with a one-line message naming the variable."""


class Settings(BaseModel):
    # Inputs stay out of validation errors: an input may be a secret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/nmc"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The Dramatiq broker: empty means Redis at REDIS_URL (the local default); amqp:// selects RabbitMQ. Heartbeats,
    # rate limits and the other Redis uses stay on REDIS_URL either way.
    broker_url: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    ingress_bind: str = "127.0.0.1:8000"
    ingress_workers: int = Field(default=2, ge=1, le=64)
    ingress_threads: int = Field(default=8, ge=1, le=256)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # A caller's missed call and the texts after it share one correlation id while they keep coming within this.
    caller_chain_idle_hours: int = Field(default=72, ge=1, le=30 * 24)

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("sandbox-auth-token-change-me-000")
    # Empty means the real Twilio API; the default points the SDK at the local sandbox.
    twilio_api_base_url: str = "http://127.0.0.1:8010"
    sandbox_bind: str = "127.0.0.1:8010"
    sandbox_threads: int = Field(default=32, ge=1, le=256)
    # Gap between the 201 and the first status callback, and between "sent" and the final status.
    sandbox_callback_delay_ms: int = Field(default=30, ge=0, le=60_000)
    # The sandbox's Clerk stand-in signs with this RSA key so tokens survive restarts (empty: under DATA_DIR).
    sandbox_key_path: str = ""

    stripe_webhook_secret: SecretStr = SecretStr("whsec_sandbox_change_me")
    stripe_tolerance_seconds: int = Field(default=300, ge=1)

    clerk_jwks_url: str = "http://127.0.0.1:8010/.well-known/jwks.json"
    clerk_issuer: str = "https://clerk.nmc.localhost"
    clerk_authorized_parties: tuple[str, ...] = ("http://127.0.0.1:8000",)
    # The staff app (/app): where a signed-out browser signs in (empty = the sandbox's page, locally; in live mode
    # Clerk's sign-in page), how long one live stream lasts before the browser reconnects, and how many streams one
    # ingress worker serves at once (each holds one of its INGRESS_THREADS threads; the rest poll).
    staff_sign_in_url: str = ""
    staff_stream_seconds: int = Field(default=25, ge=1, le=300)
    staff_streams_per_worker: int = Field(default=4, ge=1, le=256)
    # How long an invitation's token can be accepted (an expired one is resent by inviting the address again).
    invitation_ttl_hours: int = Field(default=72, ge=1, le=30 * 24)

    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_interval_ms: int = Field(default=500, ge=10)
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    delivery_lease_seconds: int = Field(default=120, ge=1)
    delivery_redrive_after_seconds: int = Field(default=30, ge=1)
    # Fresh deliveries of one queue travel up to this many per Dramatiq message (claimed in one statement; those of
    # db_only handlers share a transaction, the rest each have their own). Keep batch × slowest handler well inside
    # DELIVERY_LEASE_SECONDS.
    delivery_batch_size: int = Field(default=20, ge=1, le=500)
    worker_processes: int = Field(default=2, ge=1, le=64)
    worker_threads: int = Field(default=8, ge=1, le=256)
    # The longest an idle consumer blocks before polling again; every enqueue wakes it at once.
    worker_idle_poll_ms: int = Field(default=1000, ge=1, le=5000)
    dramatiq_namespace: str = "nmc"
    # Modules whose `subscriptions` this process serves; empty means every domain module.
    handler_modules: tuple[str, ...] = ()

    hold_ttl_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # One first SMS per caller per tenant within this window, however many calls.
    first_sms_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    human_lease_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # A staff alert's code answers a member's reply for this long (each new alert on the conversation renews it).
    staff_alert_hours: int = Field(default=24, ge=1, le=7 * 24)
    reply_segment_budget: int = Field(default=3, ge=1, le=10)
    # Poll the provider for a queued message with no status callback after this long.
    status_poll_after_seconds: int = Field(default=120, ge=10)
    # How often the scheduler asks Twilio about pending 10DLC campaigns (the only way one becomes approved).
    campaign_poll_interval_seconds: int = Field(default=300, ge=5, le=24 * 3600)
    # How often the scheduler claims due reminders and asks again for messages quiet hours deferred.
    reminder_poll_seconds: float = Field(default=15, ge=1, le=3600)

    # Calendar providers. Empty: in live mode the real APIs, else the sandbox's stand-ins at TWILIO_API_BASE_URL
    # (/google, /jobber); read them through the resolved properties below, never the fields.
    google_calendar_api_base_url: str = ""
    google_calendar_access_token: SecretStr = SecretStr("")
    jobber_api_base_url: str = ""
    jobber_access_token: SecretStr = SecretStr("")
    jobber_api_version: str = "2025-04-16"
    jobber_webhook_secret: SecretStr = SecretStr("jobber_sandbox_secret_change_me")
    # A mirror older than this is re-synced before a hold is placed on its resource (and by the periodic poll).
    calendar_mirror_max_age_seconds: int = Field(default=900, ge=1)
    calendar_sync_window_days: int = Field(default=30, ge=1, le=366)
    calendar_http_timeout_seconds: float = Field(default=5.0, gt=0)
    # The secret resource calendars' OAuth tokens are encrypted under at rest (a Fernet key is derived from it);
    # empty outside live mode = the sandbox's published one. Live mode refuses the published one.
    calendar_credentials_key: SecretStr = SecretStr("")
    # The OAuth clients linked calendars' tokens were issued to: with them an expired access token is exchanged for
    # a new one (the refresh token); without them a link works until its access token expires. Unset: in live mode
    # none (no tenant may use that provider), else the sandbox's published client. Live mode refuses a published
    # secret. The token URLs resolve as the API URLs do.
    google_oauth_client_id: str = ""
    google_oauth_client_secret: SecretStr = SecretStr("")
    google_oauth_token_url: str = ""
    jobber_oauth_client_id: str = ""
    jobber_oauth_client_secret: SecretStr = SecretStr("")
    jobber_oauth_token_url: str = ""

    ai_provider: Literal["builtin", "openai"] = "builtin"
    # Empty: in live mode OpenAI's API, else the sandbox's chat-completions stand-in at TWILIO_API_BASE_URL/ai/v1
    # (and AI_API_KEY empty its published key); read them through ai_api_url and ai_key, never the fields.
    ai_base_url: str = ""
    ai_model: str = "gpt-4o-mini"
    ai_api_key: SecretStr = SecretStr("")
    ai_timeout_seconds: float = Field(default=4.0, gt=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # auto: readable console lines on a terminal (coloured), one JSON object per line otherwise.
    log_format: Literal["auto", "json", "console"] = "auto"
    # The common conventions for console colour: NO_COLOR (any value) turns it off, FORCE_COLOR (not "0") on even
    # when the output is a pipe (`nmc up` sets it for its children when it is on a terminal).
    no_color: str = ""
    force_color: str = ""

    # Shared by every gunicorn/Dramatiq child so /metrics sums them all; empty = single-process registry.
    prometheus_multiproc_dir: str = ""
    # Where files this system writes live: made absolute when the settings are read (a relative path names a folder
    # of the working directory at start), so no later chdir or container working directory changes it.
    data_dir: str = ".run"
    # Empty: <DATA_DIR>/backups.
    backup_dir: str = ""
    heartbeat_ttl_seconds: int = Field(default=30, ge=2, le=3600)
    # Where each process serves /metrics (Prometheus scrape targets); the ingress's is its own bind, never the public
    # webhook port.
    ingress_metrics_bind: str = "127.0.0.1:9103"
    dispatcher_metrics_bind: str = "127.0.0.1:9101"
    scheduler_metrics_bind: str = "127.0.0.1:9102"
    worker_metrics_bind: str = "127.0.0.1:9191"

    @field_validator("clerk_authorized_parties", "handler_modules", mode="before")
    @classmethod
    def _split_parties(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def credentials_key(self) -> str:
        """The key calendar credentials are encrypted with: the configured one, or outside live mode the sandbox's
        published one; empty in live mode when none is configured (linking a calendar then says so)."""
        configured = self.calendar_credentials_key.get_secret_value().strip()
        if configured or self.live_mode:
            return configured
        return SANDBOX_CREDENTIALS_KEY

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://", "amqp://", "amqps://")):
            raise ValueError("must be empty (Redis at REDIS_URL), a redis:// or an amqp:// URL")
        return value

    @property
    def broker_is_rabbitmq(self) -> bool:
        return self.broker_url.startswith(("amqp://", "amqps://"))

    @field_validator(
        "public_base_url", "twilio_api_base_url", "ai_base_url", "google_calendar_api_base_url", "jobber_api_base_url"
    )
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        data = os.path.abspath(self.data_dir)
        # frozen model: set through __dict__, once, while validating
        self.__dict__["data_dir"] = data
        self.__dict__["backup_dir"] = os.path.abspath(self.backup_dir or os.path.join(data, "backups"))
        self.__dict__["sandbox_key_path"] = os.path.abspath(
            self.sandbox_key_path or os.path.join(data, "sandbox-jwk.pem")
        )
        return self

    @model_validator(mode="after")
    def _refuse_published_secrets_in_live_mode(self) -> Settings:
        if not self.live_mode:
            return self
        published = published_secrets()
        for name in SECRET_FIELDS:
            value = getattr(self, name).get_secret_value().strip()
            required = name in LIVE_REQUIRED_SECRETS or (name == "ai_api_key" and self.ai_provider == "openai")
            if (required and not value) or value.casefold() in published:
                raise _live_refusal(name, "needs your own secret, not empty nor a value published in this repository")
        # Live traffic must never reach the sandbox: a URL given for a provider is https and not the sandbox's.
        given_calendar_urls = [name for name in CALENDAR_URL_FIELDS if getattr(self, name)]
        given_ai_url = ["ai_base_url"] if self.ai_provider == "openai" and self.ai_base_url else []
        for name in ("clerk_jwks_url", *given_calendar_urls, *given_ai_url):
            refusal = _live_url_refusal(getattr(self, name), self.sandbox_bind)
            if refusal:
                raise _live_refusal(name, refusal)
        return self

    @model_validator(mode="after")
    def _credentials_key_is_long_enough(self) -> Settings:
        # After the live-mode check, so a published value is refused as published, not as short.
        raw = self.calendar_credentials_key.get_secret_value().strip()
        if raw and len(raw) < MIN_CREDENTIALS_KEY_CHARS:
            raise PydanticCustomError(
                "credentials_key",
                "{message}",
                {
                    "variable": "CALENDAR_CREDENTIALS_KEY",
                    "message": f"needs at least {MIN_CREDENTIALS_KEY_CHARS} random characters (openssl rand -hex 32)",
                },
            )
        return self

    # --- the calendar providers, resolved: a value given wins, else the real provider in live mode, else the sandbox

    @property
    def google_calendar_api_url(self) -> str:
        return self._provider_url("google_calendar_api_base_url", REAL_GOOGLE_CALENDAR_API, "/google")

    @property
    def jobber_api_url(self) -> str:
        return self._provider_url("jobber_api_base_url", REAL_JOBBER_API, "/jobber")

    @property
    def google_oauth_token_endpoint(self) -> str:
        return self._provider_url("google_oauth_token_url", REAL_GOOGLE_OAUTH_TOKEN_URL, "/google/token")

    @property
    def jobber_oauth_token_endpoint(self) -> str:
        return self._provider_url("jobber_oauth_token_url", REAL_JOBBER_OAUTH_TOKEN_URL, "/jobber/api/oauth/token")

    @property
    def google_calendar_token(self) -> str:
        """The access token the busy-time reader uses for Google (linked calendars carry their own)."""
        return self._credential("google_calendar_access_token", SANDBOX_GOOGLE_ACCESS_TOKEN)

    @property
    def jobber_token(self) -> str:
        return self._credential("jobber_access_token", SANDBOX_JOBBER_ACCESS_TOKEN)

    @property
    def google_oauth_client(self) -> tuple[str, str]:
        """(client id, client secret); empty when none is configured in live mode."""
        return (
            self._credential("google_oauth_client_id", SANDBOX_GOOGLE_CLIENT_ID),
            self._credential("google_oauth_client_secret", SANDBOX_GOOGLE_CLIENT_SECRET),
        )

    @property
    def jobber_oauth_client(self) -> tuple[str, str]:
        return (
            self._credential("jobber_oauth_client_id", SANDBOX_JOBBER_CLIENT_ID),
            self._credential("jobber_oauth_client_secret", SANDBOX_JOBBER_CLIENT_SECRET),
        )

    @property
    def ai_api_url(self) -> str:
        """The chat-completions base URL the LLM engine posts ``/chat/completions`` under."""
        return self._provider_url("ai_base_url", REAL_OPENAI_API, "/ai/v1")

    @property
    def ai_key(self) -> str:
        """The bearer key for :attr:`ai_api_url`: the configured one, or the sandbox stand-in's published one when
        that is where the engine talks (outside live mode, AI_BASE_URL empty). Another URL gets no key by default."""
        if self.ai_base_url:
            return self.ai_api_key.get_secret_value()
        return self._credential("ai_api_key", SANDBOX_AI_API_KEY)

    def _provider_url(self, name: str, live: str, sandbox_path: str) -> str:
        given = str(getattr(self, name))
        if given:
            return given
        return live if self.live_mode else f"{self.twilio_api_base_url}{sandbox_path}"

    def _credential(self, name: str, sandbox: str) -> str:
        # Given, even empty (a test's "no client"), it wins; from the environment an empty value counts as not given.
        value = getattr(self, name)
        given = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if name in self.model_fields_set or self.live_mode:
            return given
        return sandbox

    @property
    def live_mode(self) -> bool:
        """Real Twilio (``TWILIO_API_BASE_URL`` empty): the secrets protect real traffic."""
        return self.twilio_api_base_url == ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the settings once; a bad value raises SettingsError naming the variable."""
        source = os.environ if environ is None else environ
        known = {name.upper() for name in cls.model_fields}
        values: dict[str, object] = {
            key.lower(): value for key, value in source.items() if key.upper() in known and value != ""
        }
        # An explicitly empty TWILIO_API_BASE_URL means "the real Twilio", so it must survive the filter above.
        if source.get("TWILIO_API_BASE_URL") == "":
            values["twilio_api_base_url"] = ""
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            named = first.get("ctx", {}).get("variable")
            variable = str(named or (first["loc"][0] if first["loc"] else "environment")).upper()
            raise SettingsError(f"invalid {variable}: {first['msg']}") from None

    @property
    def sqlalchemy_url(self) -> str:
        _scheme, _, rest = self.database_url.partition("://")
        return f"postgresql+psycopg://{rest}"

    @property
    def database_name(self) -> str:
        return self.database_url.rsplit("/", 1)[-1].split("?", 1)[0]


def published_secrets() -> frozenset[str]:
    """Every secret value this repository publishes (casefolded): the literals plus the secret fields' defaults."""
    defaults = {Settings.model_fields[name].default.get_secret_value() for name in SECRET_FIELDS}
    return frozenset(value.casefold() for value in PUBLISHED_SECRET_LITERALS | defaults if value)


def _live_refusal(field: str, reason: str) -> PydanticCustomError:
    # The message names the variable and never the value.
    message = f"live mode (TWILIO_API_BASE_URL empty) {reason}"
    return PydanticCustomError("live_mode", "{message}", {"variable": field.upper(), "message": message})


def _live_url_refusal(url: str, sandbox_bind: str) -> str | None:
    """Why live mode cannot use ``url`` for a provider, or None."""
    parts = urlsplit(url)
    try:
        port = parts.port or 443
    except ValueError:  # a port that is not a number
        port = 0
    if parts.scheme != "https" or not parts.hostname or not port:
        return "needs an https:// URL"
    if _is_sandbox_host(parts.hostname, port, sandbox_bind):
        return "refuses the sandbox's address"
    return None


def _is_sandbox_host(host: str, port: int, sandbox_bind: str) -> bool:
    """The sandbox answers on loopback (``nmc up``), as ``sandbox`` (docker compose) or at SANDBOX_BIND."""
    bind_host, _, bind_port = sandbox_bind.rpartition(":")
    if host == bind_host and str(port) == bind_port:
        return True
    if host in ("sandbox", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
