"""What an owner changes in Settings is what the next caller is told, through the real handler path: a price
changed in the price-list form is the price the AI quotes, and the HELP answer changed in the messages form is what
a caller texting HELP gets (the sandbox receives both over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from domain.catalog.models import ServiceItem
from domain.identity.demo import demo_member
from ingress.app import IngressDeps, create_app
from ingress.auth import Claims
from ingress.staff_app.csrf import token_for
from tests.support import conversation_system
from tests.support.clerk_jwks import ISSUER, PARTY, Keys, serve_jwks, token
from tests.support.conversation_system import System, caller
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401

system = conversation_system.system  # the fixture, by name so pytest finds it here
OWNER = demo_member("owner")


@pytest.fixture(scope="module")
def jwks() -> Iterator[Keys]:
    with serve_jwks() as keys:
        yield keys


@pytest.fixture
def app(
    system: System, engine: Engine, sessions: sessionmaker[Session], jwks: Keys
) -> Iterator[falcon.testing.TestClient]:
    app_settings = system.settings.model_copy(
        update={"clerk_jwks_url": jwks.url, "clerk_issuer": ISSUER, "clerk_authorized_parties": (PARTY,)}
    )
    client = redis.Redis.from_url(system.settings.redis_url)
    yield falcon.testing.TestClient(
        create_app(app_settings, IngressDeps(engine=engine, sessions=sessions, redis=client))
    )
    client.close()


def owner_post(app: falcon.testing.TestClient, jwks: Keys, path: str, form: dict[str, str]) -> falcon.testing.Result:
    assert OWNER is not None
    csrf = token_for(Claims(subject=OWNER.clerk_user_id, authorized_party=None, session_id="sess_owner", raw={}))
    return app.simulate_post(
        path,
        cookies={"__session": token(jwks, OWNER.clerk_user_id, sid="sess_owner")},
        body=urlencode({"csrf_token": csrf, **form}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_a_price_changed_in_settings_is_the_price_the_ai_quotes(
    system: System, app: falcon.testing.TestClient, jwks: Keys
) -> None:
    with system.sessions() as session:
        drain = session.scalars(
            select(ServiceItem).where(ServiceItem.tenant_id == system.tenant_id, ServiceItem.name == "Drain cleaning")
        ).one()
    first = caller()
    system.inbound(first, "how much is drain cleaning?")
    system.drain()
    assert "$149" in system.sent_to(first)[-1]["body"]

    changed = owner_post(app, jwks, f"/app/settings/catalog/{drain.id}", {
        "name": "Drain cleaning", "price": "212.50", "duration_minutes": "60",
        "aliases": "clogged drain, slow drain", "description": "",
    })  # fmt: skip
    assert changed.status_code == 303, changed.text

    second = caller()
    system.inbound(second, "how much is drain cleaning?")
    system.drain()
    quoted = system.sent_to(second)[-1]["body"]
    assert "$212.50" in quoted, quoted
    assert "$149" not in quoted


def test_the_help_answer_changed_in_settings_is_what_a_caller_texting_help_gets(
    system: System, app: falcon.testing.TestClient, jwks: Keys
) -> None:
    help_text = "Ace Plumbing help line: call +13105551000. Reply STOP to opt out."
    saved = owner_post(app, jwks, "/app/settings/messages", {
        "first_message": "Hi, this is {business}. Sorry we missed your call!",
        "after_hours": "Hi, this is {business}. We're closed, but text us.",
        "help_text": help_text, "forward_to": "+13105551001", "owner_mobile": "+13105551002",
    })  # fmt: skip
    assert saved.status_code == 303, saved.text
    phone = caller()
    system.inbound(phone, "HELP")
    system.drain()
    assert [message["body"] for message in system.sent_to(phone)] == [help_text]
