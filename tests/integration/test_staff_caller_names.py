"""Callers' names in the staff app: staff name a caller in the thread (OWNER or TECH, CSRF-checked, their own
tenant's conversations only), caller ID names them from a signed Twilio voice webhook (never over a name staff
gave), the inbox and thread show the name and the inbox search finds a caller by a piece of it."""

from __future__ import annotations

import html
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from db.engine import transaction
from db.settings import Settings
from domain.conversations.flows.callers import record_caller_name
from domain.conversations.store import PostgresConversationStore
from domain.events.catalog import CATALOG
from domain.events.envelope import Envelope
from domain.events.handling import HandlerContext
from ingress.verification import FormParams
from tests.support import api_world
from tests.support.api_world import World
from tests.support.staff_pages import csrf_of, get_page, post_form

jwks = api_world.jwks
world = api_world.world

CALLER = "+13105550100"  # tenant A's conversation and tenant B's: the same person called both businesses
TENANT_A_NUMBER = "+13105550001"


def name_of(world: World, tenant: uuid.UUID, caller: str = CALLER) -> tuple[str, str, uuid.UUID | None] | None:
    with world.sessions() as session:
        row = session.execute(
            text("SELECT name, source, named_by FROM conv_callers WHERE tenant_id = :t AND caller = :c"),
            {"t": tenant, "c": caller},
        ).first()
    return None if row is None else (row.name, row.source, row.named_by)


def named_events(world: World, tenant: uuid.UUID) -> list[Envelope]:
    with world.sessions() as session:
        rows = session.execute(
            text(
                "SELECT event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, causation_id,"
                " payload FROM outbox_events WHERE tenant_id = :t AND event_name = 'nmc.conversations.CallerNamed'"
                " ORDER BY seq"
            ),
            {"t": tenant},
        ).all()
    return [CATALOG.validate_envelope(dict(row._mapping)) for row in rows]


def member_id(world: World, clerk_user_id: str) -> uuid.UUID:
    with world.sessions() as session:
        return uuid.UUID(
            str(session.scalar(text("SELECT id FROM id_users WHERE clerk_user_id = :c"), {"c": clerk_user_id}))
        )


def name_caller(world: World, name: str, who: str = "owner_a", conversation: uuid.UUID | None = None) -> Any:
    return post_form(world, f"/app/conversations/{conversation or world.conv_a}/name", {"name": name}, who)


def inbox_rows(world: World, query: str, who: str = "owner_a") -> str:
    page = get_page(world, "/app", who, params={"view": "all", "q": query})
    assert page.status_code == 200, page.text
    return page.text


def test_staff_name_a_caller_and_find_them_by_any_piece_of_the_name(world: World) -> None:
    named = name_caller(world, "  Maria Lopez ")
    assert named.status_code == 303
    assert named.headers["Location"] == f"/app/conversations/{world.conv_a}"
    assert name_of(world, world.a) == ("Maria Lopez", "staff", member_id(world, "owner_a"))
    # The thread's header and its form, and the inbox row, show it beside the number.
    thread = get_page(world, f"/app/conversations/{world.conv_a}")
    assert '<span class="caller-name">Maria Lopez</span> <span class="caller-number">+13105550100</span>' in thread.text
    assert 'name="name" type="text" maxlength="80" required autocomplete="off" value="Maria Lopez"' in thread.text
    # Number OR name, any case, any piece; a short search matches the start of a word.
    for found in ("lop", "LOPEZ", "ria lo", "Maria Lopez", "ma", "lo", "0100", "(310) 555-0100"):
        assert f"/app/conversations/{world.conv_a}" in inbox_rows(world, found), found
    for missing in ("zzz", "ria x", "ar", "%", "_", "9999"):
        assert f"/app/conversations/{world.conv_a}" not in inbox_rows(world, missing), missing
    assert '<span class="caller-name">Maria Lopez</span>' in inbox_rows(world, "maria")
    # The fact, through the request's sink: who named whom, from where.
    (event,) = named_events(world, world.a)
    assert event.payload == {
        "phone": CALLER,
        "caller_name": "Maria Lopez",
        "source": "staff",
        "actor": str(member_id(world, "owner_a")),
    }
    assert event.causation_id is None


def test_the_name_is_the_tenants_own_and_another_tenant_cannot_set_or_see_it(world: World) -> None:
    assert name_caller(world, "Maria Lopez").status_code == 303
    # Tenant B has a conversation with the same number: its inbox neither shows nor finds tenant A's name.
    assert "Maria Lopez" not in get_page(world, "/app", "owner_b", params={"view": "all"}).text
    assert f"/app/conversations/{world.conv_b}" not in inbox_rows(world, "maria", who="owner_b")
    assert f"/app/conversations/{world.conv_b}" in inbox_rows(world, "0100", who="owner_b")
    # Naming tenant A's conversation as B's OWNER or TECH: 404, nothing written.
    for who in ("owner_b", "tech_b"):
        refused = name_caller(world, "Mallory", who=who)
        assert refused.status_code == 404
    assert name_of(world, world.a)[:2] == ("Maria Lopez", "staff")  # type: ignore[index]
    assert name_of(world, world.b) is None
    assert named_events(world, world.b) == []
    assert get_page(world, f"/app/conversations/{world.conv_a}", "owner_b").status_code == 404


def test_a_tech_can_name_a_caller_and_a_later_name_replaces_the_earlier(world: World) -> None:
    assert name_caller(world, "Maria").status_code == 303
    assert name_caller(world, "Maria López", who="tech_a").status_code == 303
    assert name_of(world, world.a) == ("Maria López", "staff", member_id(world, "tech_a"))
    assert "Maria López" in get_page(world, f"/app/conversations/{world.conv_a}", "tech_a").text
    assert [event.payload["actor"] for event in named_events(world, world.a)] == [
        str(member_id(world, "owner_a")),
        str(member_id(world, "tech_a")),
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "write the caller's name first"),
        ("   ", "write the caller's name first"),
        ("M" * 81, "at most 80 characters"),
        ("Maria\nLopez", "no control characters"),
        ("Maria\tLopez", "no control characters"),
        ("Maria\x07", "no control characters"),
        ("Maria\u202eZEPOL", "no control characters"),  # a right-to-left override would show "LOPEZ"
    ],
)
def test_a_name_that_will_not_do_is_422_with_the_reason_and_writes_nothing(
    world: World, name: str, reason: str
) -> None:
    refused = name_caller(world, name)
    assert refused.status_code == 422
    assert reason in html.unescape(refused.text)
    assert 'role="alert"' in refused.text
    assert "Back to the inbox" in refused.text  # a page with a way back, not a traceback
    assert name_of(world, world.a) is None
    assert named_events(world, world.a) == []


def test_naming_needs_the_csrf_token_and_a_form(world: World) -> None:
    path = f"/app/conversations/{world.conv_a}/name"
    assert post_form(world, path, {"name": "Maria"}, csrf=False).status_code == 403
    someone_elses = {"name": "Maria", "csrf_token": csrf_of("owner_b")}  # a real token, of another member
    assert post_form(world, path, someone_elses, csrf=False).status_code == 403
    assert post_form(world, path, "name=Maria&name=Mallory").status_code == 400
    assert post_form(world, path, {"name": "Maria\x00"}).status_code == 400  # a NUL never reaches the form
    assert post_form(world, f"/app/conversations/{uuid.uuid4()}/name", {"name": "Maria"}).status_code == 404
    assert post_form(world, path, {"name": "M" * 80}).status_code == 303  # the limit itself is fine
    assert name_of(world, world.a) == ("M" * 80, "staff", member_id(world, "owner_a"))


@pytest.mark.parametrize("query", ["Maria\x01", "M" * 81, "Ma\u2028ria"])
def test_a_search_with_control_characters_or_too_long_is_400(world: World, query: str) -> None:
    assert get_page(world, "/app", params={"q": query}).status_code == 400


# --- caller ID ---------------------------------------------------------------------------------------------


def voice_webhook(world: World, settings: Settings, caller_name: str | None, *, caller: str = CALLER) -> Any:
    params = [("CallSid", f"CA{uuid.uuid4().hex}"), ("From", caller), ("To", TENANT_A_NUMBER)]
    if caller_name is not None:
        params.append(("CallerName", caller_name))
    path = "/webhooks/twilio/voice"
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(
        settings.public_base_url + path, FormParams.from_pairs(params)
    )
    answer = world.client.simulate_post(
        path,
        body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    assert answer.status_code == 200, answer.text
    assert "<Dial" in answer.text  # the call is put through whatever the name says
    return answer


def deliver_caller_names(world: World) -> None:
    """Run conversations' handler on every CallerNamed of tenant A, as the worker would (twice: a redelivery)."""
    for envelope in named_events(world, world.a):
        payload = CATALOG.load_payload(envelope.event_name, envelope.schema_version, envelope.payload)
        for _ in range(2):
            with transaction(world.sessions) as session:
                record_caller_name(
                    payload,
                    HandlerContext(session=session, envelope=envelope),
                    conversation_store=PostgresConversationStore,
                )


def test_caller_id_names_a_caller_from_the_signed_voice_webhook_but_never_over_staff(
    world: World, settings: Settings
) -> None:
    voice_webhook(world, settings, "LOPEZ MARIA")
    (event,) = named_events(world, world.a)
    assert event.payload == {"phone": CALLER, "caller_name": "LOPEZ MARIA", "source": "caller_id", "actor": None}
    deliver_caller_names(world)
    assert name_of(world, world.a) == ("LOPEZ MARIA", "caller_id", None)
    assert f"/app/conversations/{world.conv_a}" in inbox_rows(world, "lopez m")
    # Staff's name wins, and caller ID's next call does not undo it.
    assert name_caller(world, "Maria Lopez").status_code == 303
    voice_webhook(world, settings, "SOMEONE ELSE")
    deliver_caller_names(world)
    assert name_of(world, world.a)[:2] == ("Maria Lopez", "staff")  # type: ignore[index]
    assert f"/app/conversations/{world.conv_a}" not in inbox_rows(world, "someone")


@pytest.mark.parametrize("caller_name", [None, "", "   ", "WIRELESS CALLER", "Unknown", "\x00\x01"])
def test_a_call_without_a_usable_caller_id_name_names_nobody(
    world: World, settings: Settings, caller_name: str | None
) -> None:
    voice_webhook(world, settings, caller_name)
    assert named_events(world, world.a) == []


def test_caller_id_is_kept_tidy_never_refused(world: World, settings: Settings) -> None:
    voice_webhook(world, settings, "  SMITH\tJOHN\n " + "X" * 200)
    (event,) = named_events(world, world.a)
    assert event.payload["caller_name"] == ("SMITH JOHN " + "X" * 200)[:80]


# --- the API --------------------------------------------------------------------------------------------------


def test_the_api_lists_conversations_with_the_callers_name(world: World) -> None:
    assert world.call("get", "/v1/conversations").json["items"][0]["caller_name"] is None
    assert name_caller(world, "Maria Lopez").status_code == 303
    (item,) = world.call("get", "/v1/conversations").json["items"]
    assert (item["caller"], item["caller_name"]) == (CALLER, "Maria Lopez")
    assert world.call("get", f"/v1/conversations/{world.conv_a}").json["caller_name"] == "Maria Lopez"
    assert world.call("get", "/v1/conversations", who="owner_b").json["items"][0]["caller_name"] is None
