"""Clerk stand-in: one persisted RSA key, its JWKS document, and real RS256 session tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """Read the PEM at ``path``, or create it once (exclusive create, so two starters agree on one key)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # someone else won the race; use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            return key
    # The key is our own file, so the (slow, ~40 ms) RSA consistency check buys nothing.
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


class ClerkIssuer:
    def __init__(self, key: rsa.RSAPrivateKey, issuer: str) -> None:
        self._key = key
        self._issuer = issuer
        public: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        # RFC 7638 thumbprint as the kid: stable for the key, so a restart serves the same kid.
        canonical = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        self._jwk = {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}

    def token(
        self,
        *,
        sub: str,
        azp: str | None = None,
        ttl_seconds: int = 3600,
        extra: dict[str, Any] | None = None,
        now: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": sub,
            "iat": issued,
            "nbf": issued - 5,  # Clerk backdates nbf a little for clock skew
            "exp": issued + ttl_seconds,
            "sid": "sess_" + secrets.token_hex(12),
            "jti": secrets.token_hex(10),
        }
        if azp:
            claims["azp"] = azp
        claims.update(extra or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid}), claims
