"""Every route of the staff app, taken from Falcon's own route table (so a screen added later is covered without
editing this file): a TECH is refused every owner-only responder, every form refuses a missing CSRF token, another
tenant's ids are never found, and malformed bodies or unknown ids are a 4xx, never a 5xx."""

from __future__ import annotations

import re
import uuid

import falcon
import falcon.inspect
import falcon.testing
import pytest
import redis
from sqlalchemy import Engine

from db.settings import Settings
from ingress.app import IngressDeps, create_app
from tests.support import api_world
from tests.support.api_world import ISSUER, PARTY, Sched, World
from tests.support.clerk_jwks import token
from tests.support.staff_pages import csrf_of, session_cookie

jwks = api_world.jwks
world = api_world.world
sched = api_world.sched

OWNER_ONLY = ("/app/settings", "/app/reports")
# Not a screen: the sandbox's sign-in hands its token to /app/session (no session yet, so no CSRF token to check).
SIGNING_IN = "/app/session"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def app_routes(app: falcon.App) -> list[tuple[str, str]]:
    """(method, path template) of every /app responder but the static files."""
    return sorted(
        (method.method, route.path)
        for route in falcon.inspect.inspect_routes(app)
        if route.path.startswith("/app") and not route.path.startswith("/app/static")
        for method in route.methods
        if not method.internal and method.method in ("GET", "POST")
    )


def fill(path: str, ids: dict[str, str] | None = None) -> str:
    """The template with each ``{name:uuid}`` filled in: the given id for that name, else a random one."""
    return re.sub(r"{(\w+):uuid}", lambda found: (ids or {}).get(found.group(1), str(uuid.uuid4())), path)


def request(
    world: World, method: str, path: str, who: str, *, body: str | None = None, csrf: bool = True
) -> falcon.testing.Result:
    if method == "GET":
        return world.client.simulate_get(path, cookies=session_cookie(world, who))
    if body is None:
        body = f"csrf_token={csrf_of(who)}" if csrf else ""
    return world.client.simulate_post(path, cookies=session_cookie(world, who), body=body, headers=FORM)


def test_the_route_table_has_the_screens_this_file_checks(world: World) -> None:
    routes = app_routes(world.client.app)
    owner_only = [route for route in routes if route[1].startswith(OWNER_ONLY)]
    assert len(owner_only) >= 20, owner_only  # settings sections and their forms, reports
    assert ("GET", "/app/reports") in routes
    assert ("POST", "/app/settings/team/invite") in routes
    assert ("POST", "/app/settings/reminders") in routes


def test_a_tech_is_refused_every_owner_only_responder(world: World) -> None:
    refused = []
    for method, path in app_routes(world.client.app):
        if not path.startswith(OWNER_ONLY):
            continue
        result = request(world, method, fill(path), "tech_a")
        assert result.status_code == 403, (method, path, result.status_code)
        assert "Not allowed" in result.text
        refused.append((method, path))
    assert refused


def test_a_tech_may_use_every_other_screen_without_a_5xx(world: World) -> None:
    for method, path in app_routes(world.client.app):
        if path.startswith(OWNER_ONLY) or path == SIGNING_IN or path == "/app/events":
            continue
        result = request(world, method, fill(path, {"conversation_id": str(world.conv_a)}), "tech_a")
        assert result.status_code < 500, (method, path, result.status_code)
        assert result.status_code != 403, (method, path)


def test_every_form_refuses_a_missing_or_forged_csrf_token(world: World) -> None:
    checked = 0
    for method, path in app_routes(world.client.app):
        if method != "POST" or path == SIGNING_IN:
            continue
        missing = request(world, "POST", fill(path), "owner_a", csrf=False)
        assert missing.status_code == 403, (path, missing.status_code)
        forged = request(world, "POST", fill(path), "owner_a", body=f"csrf_token={csrf_of('owner_b')}")
        assert forged.status_code == 403, (path, forged.status_code)
        checked += 1
    assert checked >= 25


def test_a_forged_session_is_signed_out_everywhere(world: World) -> None:
    forged = {"__session": token(world.keys, "owner_a", key=world.keys.other, sid="sess_owner_a")}
    for method, path in app_routes(world.client.app):
        if path in (SIGNING_IN, "/app/signed-out"):
            continue
        if method == "GET":
            result = world.client.simulate_get(fill(path), cookies=forged)
            assert result.status_code in (303, 401), (path, result.status_code)
        else:
            result = world.client.simulate_post(
                fill(path), cookies=forged, body=f"csrf_token={csrf_of('owner_a')}", headers=FORM
            )
            assert result.status_code == 401, (path, result.status_code)


def test_another_tenants_ids_are_never_found_nor_changed(world: World, sched: Sched) -> None:
    theirs = {
        "conversation_id": str(world.conv_b),
        "appointment_id": sched.appointment_b,
        "item_id": sched.item_b,
        "resource_id": sched.resource_b,
        "user_id": str(world.user_b),
    }
    before = {path: world.client.simulate_get(path, cookies=session_cookie(world, "owner_b")).text for path in (
        f"/app/conversations/{world.conv_b}",
        f"/app/settings/catalog/{sched.item_b}",
        f"/app/settings/technicians/{sched.resource_b}",
    )}  # fmt: skip
    for method, path in app_routes(world.client.app):
        if "{" not in path:
            continue
        filled = fill(path, theirs)
        result = request(world, method, filled, "owner_a")
        if method == "GET":
            assert result.status_code == 404, (path, result.status_code)
        else:
            assert 400 <= result.status_code < 500, (path, result.status_code)
            assert result.status_code != 403, (path, result.status_code)  # refused for the tenant, not the role
    for path, text in before.items():
        now = world.client.simulate_get(path, cookies=session_cookie(world, "owner_b")).text
        strip = re.compile(r'name="csrf_token" value="[^"]*"')
        assert strip.sub("", now) == strip.sub("", text), path


@pytest.mark.parametrize(
    "body",
    ["%ZZ=1", "csrf_token=a&csrf_token=b", "x" * 20_000, "\xff\xfe", "a=1&" * 50, "=&=&", "&&&"],
)
def test_malformed_bodies_on_every_form_are_4xx(world: World, body: str) -> None:
    for method, path in app_routes(world.client.app):
        if method != "POST":
            continue
        result = request(world, "POST", fill(path), "owner_a", body=body)
        assert 400 <= result.status_code < 500, (path, body[:20], result.status_code)


def test_every_form_with_only_its_token_is_a_4xx_or_a_redirect_never_a_5xx(world: World) -> None:
    for method, path in app_routes(world.client.app):
        if method != "POST" or path == SIGNING_IN:
            continue
        result = request(world, "POST", fill(path, {"conversation_id": str(world.conv_a)}), "owner_a")
        assert result.status_code < 500, (path, result.status_code, result.text[:200])


# --- signing in: Clerk's session token as the cookie or a Bearer token; the sandbox's hand-over only locally ------


def test_the_session_token_is_read_from_a_bearer_header_too(world: World) -> None:
    bearer = {"Authorization": f"Bearer {token(world.keys, 'owner_a', sid='sess_owner_a')}"}
    assert world.client.simulate_get("/app", headers=bearer).status_code == 200
    taken = world.client.simulate_post(
        f"/app/conversations/{world.conv_a}/takeover",
        body=f"csrf_token={csrf_of('owner_a')}",
        headers={**bearer, **FORM},
    )
    assert taken.status_code == 303
    forged = {"Authorization": f"Bearer {token(world.keys, 'owner_a', key=world.keys.other)}"}
    assert world.client.simulate_get("/app", headers=forged).status_code == 303  # to sign in


def test_the_sign_in_hand_over_verifies_the_token_and_sets_a_strict_cookie(world: World) -> None:
    minted = token(world.keys, "owner_a", sid="sess_owner_a")
    for bad in (token(world.keys, "owner_a", key=world.keys.other), "not-a-jwt"):
        refused = world.client.simulate_post(SIGNING_IN, body=f"token={bad}", headers=FORM)
        assert refused.status_code == 401
        assert "set-cookie" not in refused.headers
    assert world.client.simulate_post(SIGNING_IN, body="token=", headers=FORM).status_code == 400
    for target, lands in (
        ("/app/bookings", "/app/bookings"),
        ("https://evil.example/app", "/app"),
        ("//evil.example/app", "/app"),
        ("/app//evil.example", "/app"),
    ):
        signed_in = world.client.simulate_post(SIGNING_IN, body=f"token={minted}&next={target}", headers=FORM)
        assert signed_in.status_code == 303
        assert signed_in.headers["Location"].endswith(lands), target
        cookie = signed_in.cookies["__session"]
        assert cookie.http_only
        assert cookie.same_site == "Lax"
        assert cookie.value == minted


def test_in_live_mode_only_clerk_issues_sessions(world: World, settings: Settings, engine: Engine) -> None:
    live = settings.model_copy(
        update={
            "twilio_api_base_url": "",
            "staff_sign_in_url": "https://accounts.example.com/sign-in",
            "clerk_jwks_url": world.keys.url,
            "clerk_issuer": ISSUER,
            "clerk_authorized_parties": (PARTY,),
        }
    )
    assert live.live_mode
    broker = redis.Redis.from_url(settings.redis_url)
    try:
        client = falcon.testing.TestClient(
            create_app(live, IngressDeps(engine=engine, sessions=world.sessions, redis=broker))
        )
        minted = token(world.keys, "owner_a", sid="sess_owner_a")
        assert client.simulate_post(SIGNING_IN, body=f"token={minted}", headers=FORM).status_code in (404, 405)
        signed_out = client.simulate_get("/app")
        assert signed_out.status_code == 303
        assert signed_out.headers["Location"].startswith("https://accounts.example.com/sign-in?redirect_url=")
        assert client.simulate_get("/app", cookies={"__session": minted}).status_code == 200
    finally:
        broker.close()
