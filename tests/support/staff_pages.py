"""Driving the staff app's pages through falcon.testing as a signed-in member: GET a page, POST a form (properly
url-encoded, with the member's CSRF token unless the test says otherwise)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import falcon.testing

from ingress.auth import Claims
from ingress.staff_app.csrf import token_for
from tests.support.api_world import World
from tests.support.clerk_jwks import token


def session_cookie(world: World, who: str) -> dict[str, str]:
    return {"__session": token(world.keys, who, sid=f"sess_{who}")}


def csrf_of(who: str) -> str:
    return token_for(Claims(subject=who, authorized_party=None, session_id=f"sess_{who}", raw={}))


def get_page(world: World, path: str, who: str = "owner_a", **kwargs: Any) -> falcon.testing.Result:
    return world.client.simulate_get(path, cookies=session_cookie(world, who), **kwargs)


def post_form(
    world: World, path: str, form: dict[str, str] | str, who: str = "owner_a", *, csrf: bool = True
) -> falcon.testing.Result:
    body = urlencode({**({"csrf_token": csrf_of(who)} if csrf else {}), **form}) if isinstance(form, dict) else form
    return world.client.simulate_post(
        path,
        cookies=session_cookie(world, who),
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
