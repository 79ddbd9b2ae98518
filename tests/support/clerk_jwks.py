"""A Clerk-style signer for API tests: an RSA key whose JWKS is served over real HTTP, and RS256 session tokens."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.test.example"
PARTY = "https://app.test.example"


@dataclass
class Keys:
    private: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey
    url: str
    hits: list[str]


@contextmanager
def serve_jwks() -> Iterator[Keys]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Keys(private, other, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", hits)
    finally:
        server.shutdown()
        server.server_close()


def token(keys: Keys, sub: str, *, key: Any = None, alg: str = "RS256", kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": sub, "iss": ISSUER, "azp": PARTY, "iat": now, "nbf": now, "exp": now + 60, "sid": "sess_1"}
    payload.update(claims)
    return jwt.encode(payload, keys.private if key is None else key, algorithm=alg, headers={"kid": kid})
