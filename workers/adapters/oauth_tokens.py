"""The providers' OAuth 2.0 token endpoints: the scheduling module's ``TokenRefresher``, the ``refresh_token`` grant.

Both take a form-encoded POST of ``client_id``, ``client_secret``, ``grant_type=refresh_token`` and
``refresh_token`` and answer JSON with a new ``access_token``:

* Google (``https://oauth2.googleapis.com/token``) with ``expires_in``, ``scope`` and ``token_type``, and normally no
  new refresh token (the one stored keeps working until it is revoked).
* Jobber (``https://api.getjobber.com/api/oauth/token``) with a new ``refresh_token`` every time (rotation: the old
  one stops working, so the new one must be stored); its access token is a JWT whose ``exp`` says when it expires
  when the answer carries no ``expires_in``.

A 400/401 (``invalid_grant``: revoked or already spent; ``invalid_client``) is ``RefreshRefused``: only linking
again helps. Anything else (5xx, 429, a timeout, an answer without a token) is ``CalendarUnavailable``: the delivery
retries.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from db.settings import Settings
from domain.scheduling.credentials import WriteProvider
from domain.scheduling.errors import CalendarUnavailable
from domain.scheduling.token_refresh import RefreshedTokens, RefreshRefused


@dataclass(frozen=True)
class OAuthClient:
    """One provider's OAuth client: the variables it comes from name it in messages."""

    variable_prefix: str
    client_id: str
    client_secret: str
    token_url: str


class OAuthTokenClient:
    def __init__(self, clients: dict[WriteProvider, OAuthClient], *, http: httpx.Client) -> None:
        self._clients = clients
        self._http = http

    def refresh(self, provider: WriteProvider, refresh_token: str, *, now: datetime) -> RefreshedTokens:
        client = self._clients[provider]
        if not client.client_id or not client.client_secret:
            raise RefreshRefused(
                f"{client.variable_prefix}_CLIENT_ID and {client.variable_prefix}_CLIENT_SECRET are not set, "
                "so the expired access token cannot be renewed"
            )
        try:
            response = self._http.post(
                client.token_url,
                data={
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise CalendarUnavailable(f"{provider} token endpoint: {type(error).__name__}: {error}") from None
        if response.status_code in (400, 401):
            raise RefreshRefused(f"{response.status_code} {_oauth_error(response)}")
        if response.status_code != 200:
            raise CalendarUnavailable(
                f"{provider} token endpoint {response.status_code}: {response.text[:200]}", status=response.status_code
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise CalendarUnavailable(f"{provider} token endpoint answered without an access_token")
        rotated = body.get("refresh_token") if isinstance(body, dict) else None
        return RefreshedTokens(
            access_token=access,
            expires_at=_expires_at(body, access, now),
            refresh_token=rotated if isinstance(rotated, str) and rotated else None,
        )


def _oauth_error(response: httpx.Response) -> str:
    # RFC 6749 §5.2: {"error": "invalid_grant", "error_description": "…"}; never the request (it holds the secrets).
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return response.text[:200]
    error, description = body.get("error"), body.get("error_description")
    return f"{error}: {description}" if description else str(error or response.text[:200])


def _expires_at(body: dict[str, Any], access_token: str, now: datetime) -> datetime | None:
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        return now + timedelta(seconds=float(expires_in))
    return _jwt_expiry(access_token)


def _jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT access token (read, not verified: the provider verifies it), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def build_token_refresher(settings: Settings, *, http: httpx.Client | None = None) -> OAuthTokenClient:
    return OAuthTokenClient(
        {
            "google": OAuthClient("GOOGLE_OAUTH", *settings.google_oauth_client, settings.google_oauth_token_endpoint),
            "jobber": OAuthClient("JOBBER_OAUTH", *settings.jobber_oauth_client, settings.jobber_oauth_token_endpoint),
        },
        http=http or httpx.Client(timeout=settings.calendar_http_timeout_seconds),
    )
