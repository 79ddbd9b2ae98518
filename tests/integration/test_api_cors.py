"""CORS on /v1 for the CLERK_AUTHORIZED_PARTIES origins only: a preflight is answered with the API's methods and
headers, an allowed origin can read answers (errors too), any other origin, a malformed one, and every path outside
/v1 (webhooks, health, the staff app) get no CORS header at all, and nothing here is ever a 5xx."""

from __future__ import annotations

import falcon.testing

from ingress.api.cors import ALLOW_HEADERS, PREFLIGHT_MAX_AGE_SECONDS
from tests.support import api_world as api
from tests.support.api_world import PARTY, World, token

jwks = api.jwks
world = api.world

EVIL = "https://evil.test.example"


def cors_headers(result: falcon.testing.Result) -> dict[str, str]:
    return {name: value for name, value in result.headers.items() if name.lower().startswith("access-control-")}


def preflight(world: World, path: str, origin: str, method: str = "POST") -> falcon.testing.Result:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, x-tenant-id",
    }
    return world.client.simulate_options(path, headers=headers)


def test_a_preflight_from_an_authorized_party_is_answered_without_a_token(world: World) -> None:
    answered = preflight(world, "/v1/appointments", PARTY)
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == PARTY
    assert set(answered.headers["access-control-allow-methods"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert answered.headers["access-control-allow-headers"] == ", ".join(ALLOW_HEADERS)
    for header in ("Authorization", "Content-Type", "X-Tenant-Id", "X-Request-Id", "Idempotency-Key"):
        assert header in ALLOW_HEADERS
    assert answered.headers["access-control-max-age"] == str(PREFLIGHT_MAX_AGE_SECONDS)
    # The API authenticates with the bearer token alone: the browser's cookies are never invited along.
    assert "access-control-allow-credentials" not in answered.headers
    assert "Origin" in answered.headers["vary"]
    # Each route says its own methods: a path id route takes GET only.
    one = preflight(world, "/v1/appointments/00000000-0000-0000-0000-000000000001", PARTY, method="GET")
    assert one.headers["access-control-allow-methods"].replace(" ", "").split(",") == ["GET"]


def test_an_authorized_party_reads_answers_and_errors(world: World) -> None:
    bearer = token(world.keys, "owner_a")
    ok = world.client.simulate_get("/v1/me", headers={"Origin": PARTY, "Authorization": f"Bearer {bearer}"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == PARTY
    exposed = ok.headers["access-control-expose-headers"]
    assert "X-Request-Id" in exposed
    assert "Idempotent-Replayed" in exposed
    assert "Origin" in ok.headers["vary"]
    assert "access-control-allow-methods" not in ok.headers  # only a preflight lists them
    # An error is readable too, so the app can show why (a 401, and a 413 refused before any resource ran).
    refused = world.client.simulate_get("/v1/me", headers={"Origin": PARTY})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == PARTY
    assert "WWW-Authenticate" in refused.headers["access-control-expose-headers"]
    huge = world.client.simulate_post(
        "/v1/appointments", headers={"Origin": PARTY, "Content-Length": str(10**9)}, body=b"{}"
    )
    assert huge.status_code == 413
    assert huge.headers["access-control-allow-origin"] == PARTY


def test_another_origin_gets_no_cors_header(world: World) -> None:
    bearer = token(world.keys, "owner_a")
    answered = world.client.simulate_get("/v1/me", headers={"Origin": EVIL, "Authorization": f"Bearer {bearer}"})
    assert answered.status_code == 200  # the request itself is the token's business; the browser hides the answer
    assert cors_headers(answered) == {}
    assert "Origin" in answered.headers["vary"]
    refused = preflight(world, "/v1/appointments", EVIL)
    assert refused.status_code == 200
    assert cors_headers(refused) == {}


OUTSIDE = ["/webhooks/twilio/sms", "/webhooks/twilio/voice", "/webhooks/stripe", "/healthz", "/metrics", "/app", "/v1"]


def test_no_cors_outside_the_api(world: World) -> None:
    for path in OUTSIDE:
        assert cors_headers(preflight(world, path, PARTY)) == {}, path
        assert cors_headers(world.client.simulate_get(path, headers={"Origin": PARTY})) == {}, path
        assert cors_headers(world.client.simulate_post(path, headers={"Origin": PARTY}, body=b"")) == {}, path


MALFORMED_ORIGINS = [
    "",
    " ",
    "null",
    PARTY + "/",
    PARTY.upper(),
    PARTY + ".evil.example",
    PARTY + ":443",
    f"{PARTY}, {EVIL}",
    f"{EVIL}?{PARTY}",
    "app.test.example",
    "https://",
    "://",
    "\x00",
    PARTY + "%2f",  # (leading or trailing whitespace is not part of a header value: HTTP strips it)
    "h\u00e9llo",
    "x" * 8000,
    "https://[::1",
    "javascript:alert(1)",
]


def test_a_malformed_origin_is_never_a_5xx_and_never_allowed(world: World) -> None:
    bearer = token(world.keys, "owner_a")
    for origin in MALFORMED_ORIGINS:
        for result in (
            world.client.simulate_get("/v1/me", headers={"Origin": origin, "Authorization": f"Bearer {bearer}"}),
            world.client.simulate_get("/v1/me", headers={"Origin": origin}),
            preflight(world, "/v1/appointments", origin),
            world.client.simulate_get("/v1/docs", headers={"Origin": origin}),
        ):
            assert result.status_code < 500, (origin, result.status_code, result.text[:200])
            assert "access-control-allow-origin" not in result.headers, origin
