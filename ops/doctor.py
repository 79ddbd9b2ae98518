"""`nmc doctor`'s checks: is this deployment configured and can it reach what it needs?

Each check answers in one line, says what is wrong in words an operator can act on, and never raises: a doctor
that stops at the first problem hides the rest. The checks read the same settings the processes read, so what
passes here is what they will see.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import click
import httpx
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_revision
from db.settings import Settings
from ops.failures import describe
from ops.preflight import require_broker, require_postgres, require_redis

TIMEOUT_SECONDS = 5.0
REAL_TWILIO = "https://api.twilio.com"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.check:<10} {self.detail}"

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


def _failure(error: Exception, settings: Settings) -> str:
    return describe(error, settings) or f"{type(error).__name__}: {error}"


def check_mode(settings: Settings) -> Finding:
    # Reaching this point means the settings loaded: in live mode that already refused published or empty secrets.
    if settings.live_mode:
        return Finding("mode", True, "live (real Twilio); no published or empty secret is configured")
    return Finding("mode", True, f"local: Twilio is the sandbox at {settings.twilio_api_base_url}")


def check_database(settings: Settings) -> Finding:
    try:
        require_postgres(settings, timeout=int(TIMEOUT_SECONDS))
        current = current_revision(settings)
    except Exception as error:
        return Finding("database", False, _failure(error, settings))
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    if current != head:
        return Finding("database", False, f"schema at {current or 'nothing'}, code expects {head}: run nmc migrate")
    return Finding("database", True, f"reachable, schema at {head}")


def check_redis(settings: Settings) -> Finding:
    try:
        require_redis(settings, timeout=TIMEOUT_SECONDS)
    except Exception as error:
        return Finding("redis", False, _failure(error, settings))
    return Finding("redis", True, "answers PING")


def check_broker(settings: Settings) -> Finding:
    """Only where BROKER_URL names a broker of its own (else the queues are on REDIS_URL, checked above)."""
    try:
        require_broker(settings, timeout=TIMEOUT_SECONDS)
    except Exception as error:
        message = error.message if isinstance(error, click.ClickException) else _failure(error, settings)
        return Finding("broker", False, message)
    return Finding("broker", True, "RabbitMQ accepts the connection" if settings.broker_is_rabbitmq else "answers PING")


def check_twilio(settings: Settings, http: httpx.Client) -> Finding:
    """The account's message list, one item: proves the address answers and the credentials are accepted."""
    base = settings.twilio_api_base_url or REAL_TWILIO
    url = f"{base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
    auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    try:
        answer = http.get(url, params={"PageSize": 1}, auth=auth)
    except httpx.HTTPError as error:
        return Finding("twilio", False, f"cannot reach {base} ({type(error).__name__})")
    if answer.status_code in (401, 403):
        return Finding("twilio", False, f"{base} refused TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN ({answer.status_code})")
    if answer.status_code != 200:
        return Finding("twilio", False, f"{base} answered {answer.status_code} to the message list")
    return Finding("twilio", True, f"{base} accepts the account's credentials")


def check_clerk(settings: Settings, http: httpx.Client) -> Finding:
    url = settings.clerk_jwks_url
    try:
        answer = http.get(url)
        keys = answer.json().get("keys") if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as error:
        return Finding("clerk", False, f"no JWKS at {url} ({type(error).__name__})")
    if not keys:
        return Finding("clerk", False, f"{url} answered {answer.status_code} without signing keys")
    return Finding("clerk", True, f"{len(keys)} signing key(s) at {url}")


# A refresh token nobody issued: the token endpoint answers invalid_grant to a client it knows, invalid_client else.
UNISSUED_GRANT = "nmc-doctor-probe"


def check_calendars(settings: Settings, http: httpx.Client) -> Finding:
    """Each provider's OAuth token endpoint (the sandbox's locally) asked to renew a token nobody issued: proves the
    address answers and the configured client is known there, without renewing anything."""
    providers = (
        ("google", "GOOGLE_OAUTH", settings.google_oauth_client, settings.google_oauth_token_endpoint),
        ("jobber", "JOBBER_OAUTH", settings.jobber_oauth_client, settings.jobber_oauth_token_endpoint),
    )
    notes = []
    for name, prefix, (client_id, client_secret), url in providers:
        if not client_id or not client_secret:
            notes.append(f"{name}: no OAuth client (a link works until its access token expires)")
            continue
        form = {"client_id": client_id, "client_secret": client_secret, "grant_type": "refresh_token"}
        try:
            answer = http.post(url, data={**form, "refresh_token": UNISSUED_GRANT})
        except httpx.HTTPError as error:
            return Finding("calendars", False, f"cannot reach {url} ({type(error).__name__})")
        if answer.status_code == 401:
            return Finding("calendars", False, f"{url} refused {prefix}_CLIENT_ID/{prefix}_CLIENT_SECRET (401)")
        if answer.status_code != 400:
            return Finding("calendars", False, f"{url} answered {answer.status_code} to a token renewal")
        notes.append(f"{name}: {url} knows the OAuth client")
    return Finding("calendars", True, "; ".join(notes))


def check_public_url(settings: Settings, http: httpx.Client) -> Finding:
    """Where Twilio, Stripe and Clerk's browsers must reach the ingress: public and https in live mode."""
    url = settings.public_base_url.rstrip("/")
    parts = urlsplit(url)
    if settings.live_mode:
        if parts.scheme != "https":
            return Finding("public url", False, f"PUBLIC_BASE_URL {url} must be https:// in live mode")
        if _is_private(parts.hostname or ""):
            return Finding("public url", False, f"PUBLIC_BASE_URL {url} is not reachable from the providers")
    try:
        answer = http.get(f"{url}/healthz")
    except httpx.HTTPError as error:
        return Finding(
            "public url", False, f"{url}/healthz does not answer ({type(error).__name__}): is the ingress up?"
        )
    if answer.status_code != 200:
        return Finding("public url", False, f"{url}/healthz answered {answer.status_code}")
    return Finding("public url", True, f"{url}/healthz answers 200")


def _is_private(host: str) -> bool:
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def examine(settings: Settings, http: httpx.Client | None = None) -> list[Finding]:
    """Every check, in the order an operator fixes things: configuration, storage, providers, the public door."""
    own = http is None
    client = http or httpx.Client(timeout=TIMEOUT_SECONDS)
    checks: list[Callable[[], Finding]] = [
        lambda: check_mode(settings),
        lambda: check_database(settings),
        lambda: check_redis(settings),
        *([lambda: check_broker(settings)] if settings.broker_url else []),
        lambda: check_twilio(settings, client),
        lambda: check_clerk(settings, client),
        lambda: check_calendars(settings, client),
        lambda: check_public_url(settings, client),
    ]
    try:
        return [check() for check in checks]
    finally:
        if own:
            client.close()
