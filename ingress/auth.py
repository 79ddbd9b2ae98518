"""Clerk session JWT verification: RS256 only, keys from the JWKS at ``CLERK_JWKS_URL``.

The key set is cached; a token signed with a ``kid`` we have not seen triggers one refetch (Clerk rotated keys), but
at most once per ``min_refetch_seconds`` so a flood of forged kids cannot turn us into a JWKS amplifier.
Issuer is pinned, ``azp`` must be one of ``CLERK_AUTHORIZED_PARTIES``, exp/nbf get a 5 s leeway.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from db.settings import Settings

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 5
MAX_NUMERIC_DATE = 2**53  # the largest integer a JSON number carries exactly


class AuthError(Exception):
    """The token is not acceptable; the message is safe to show (it never echoes the token)."""


@dataclass(frozen=True)
class Claims:
    subject: str
    authorized_party: str | None
    session_id: str | None
    raw: dict[str, Any]

    @property
    def email(self) -> str | None:
        """The user's address from the session token (Clerk: a ``{{user.primary_email_address}}`` claim in the
        token template), unless the token itself says it is unverified."""
        value = self.raw.get("email")
        if not isinstance(value, str) or not value.strip() or self.raw.get("email_verified") is False:
            return None
        return value.strip()

    @property
    def name(self) -> str | None:
        value = self.raw.get("name")
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def org_id(self) -> str | None:
        """The active Clerk organization: ``org_id`` (session token v1) or ``o.id`` (v2)."""
        value = self.raw.get("org_id")
        nested = self.raw.get("o")
        if value is None and isinstance(nested, dict):
            value = nested.get("id")
        return value if isinstance(value, str) and value else None


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
        timeout_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
            unknown = kid not in self._keys
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self._min_refetch_seconds
            if stale or (unknown and may_refetch):
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise AuthError("token signed with an unknown key")
        return key

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        self._fetched_at = now  # also on failure: the rate limit holds while the JWKS endpoint is down
        try:
            response = httpx.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError):
            if not self._keys:
                raise AuthError("signing keys are unavailable") from None
            return  # keep serving the keys we have
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}


class ClerkVerifier:
    def __init__(self, settings: Settings, keys: JwksKeys | None = None) -> None:
        self._issuer = settings.clerk_issuer
        self._parties = frozenset(settings.clerk_authorized_parties)
        self._keys = keys or JwksKeys(settings.clerk_jwks_url)

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        # Pinned before any key is looked up: "none" and HS256-with-the-public-key never reach a verifier.
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id")
        key = self._keys.key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.PyJWTError:
            raise AuthError("token rejected") from None
        _check_claim_types(claims)
        azp = claims.get("azp")
        if self._parties and azp not in self._parties:
            raise AuthError("token authorized party not accepted")
        return Claims(subject=claims["sub"], authorized_party=azp, session_id=claims.get("sid"), raw=claims)


def _check_claim_types(claims: dict[str, Any]) -> None:
    """PyJWT checks the times with ``int(claim)``, so ``"exp": "9999999999"`` passes and never expires; and an
    ``azp`` list is unhashable, which a set lookup turns into a 500. Each claim we read must have its JSON type."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and not _is_numeric_date(value):
            raise AuthError(f"token claim {name} is not a NumericDate")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("token has no subject")
    for name in ("azp", "sid"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise AuthError(f"token claim {name} is not a string")


def _is_numeric_date(value: object) -> bool:
    # RFC 7519 NumericDate: a JSON number (seconds, fractions allowed); a bool is an int to Python, not to JSON.
    # A huge int is refused here because math.isfinite would raise OverflowError on it.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < MAX_NUMERIC_DATE
    return isinstance(value, float) and math.isfinite(value)
