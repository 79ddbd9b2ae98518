"""The JWKS cache: fetched once, refetched for an unknown kid at most once per interval, stale after its TTL."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ingress.auth import AuthError, JwksKeys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, object]]]:
    state: dict[str, object] = {"keys": [], "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] = int(state["hits"]) + 1  # type: ignore[call-overload]
            body = json.dumps({"keys": state["keys"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks", state
    httpd.shutdown()
    httpd.server_close()


def jwk(kid: str) -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256"}


def test_unknown_kids_refetch_rate_limited_and_rotation_is_picked_up(server: tuple[str, dict[str, object]]) -> None:
    url, state = server
    state["keys"] = [jwk("k1")]
    clock = Clock()
    keys = JwksKeys(url, cache_seconds=300, min_refetch_seconds=30, clock=clock)
    assert keys.key_for("k1").key_id == "k1"
    assert keys.key_for("k1").key_id == "k1"
    assert state["hits"] == 1
    # A flood of unknown kids costs at most one fetch per interval.
    for n in range(20):
        with pytest.raises(AuthError, match="unknown key"):
            keys.key_for(f"forged{n}")
    assert state["hits"] == 1
    # Clerk rotates: the new kid is found on the next allowed refetch.
    state["keys"] = [jwk("k1"), jwk("k2")]
    clock.now += 31
    assert keys.key_for("k2").key_id == "k2"
    assert state["hits"] == 2
    clock.now += 301
    keys.key_for("k1")
    assert state["hits"] == 3


def test_an_unreachable_jwks_is_an_auth_error_not_a_crash() -> None:
    keys = JwksKeys("http://127.0.0.1:9/jwks", timeout_seconds=0.5)
    with pytest.raises(AuthError, match="unavailable"):
        keys.key_for("k1")
