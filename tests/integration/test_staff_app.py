"""The staff app at /app through falcon.testing: session cookies, CSRF, roles, tenants and bad bodies, on real
Postgres with Clerk-style RS256 tokens served from a local JWKS."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import pytest
from sqlalchemy import text

from db.engine import transaction
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.records import SlotRequest
from ingress.auth import Claims
from ingress.staff_app.csrf import token_for
from tests.support import api_world
from tests.support.api_world import World, outbox_names
from tests.support.clerk_jwks import Keys, token

jwks = api_world.jwks
world = api_world.world
sched = api_world.sched


def page(world: World, path: str, who: str | None = "owner_a", **kwargs: Any) -> falcon.testing.Result:
    cookies = {"__session": token(world.keys, who, sid=f"sess_{who}")} if who else {}
    return world.client.simulate_get(path, cookies=cookies, **kwargs)


def csrf_of(who: str) -> str:
    return token_for(Claims(subject=who, authorized_party=None, session_id=f"sess_{who}", raw={}))


def post(
    world: World, path: str, form: dict[str, str] | str, who: str = "owner_a", *, csrf: str | None = None
) -> falcon.testing.Result:
    if isinstance(form, dict):
        form = {"csrf_token": csrf_of(who) if csrf is None else csrf, **form}
        body = "&".join(f"{key}={value}" for key, value in form.items())
    else:
        body = form
    return world.client.simulate_post(
        path,
        cookies={"__session": token(world.keys, who, sid=f"sess_{who}")},
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def add_message(world: World, tenant: uuid.UUID, conversation: uuid.UUID, direction: str, body: str) -> None:
    with transaction(world.sessions) as session:
        session.execute(
            text(
                "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number,"
                " to_number, body, status) VALUES (gen_random_uuid(), :t, :c, :d, :p, '+13105550100',"
                " '+13105550001', :b, :s)"
            ),
            {
                "t": tenant,
                "c": conversation,
                "d": direction,
                "p": None if direction == "in" else "ai_reply",
                "b": body,
                "s": "received" if direction == "in" else "sent",
            },
        )


def test_a_signed_out_browser_is_sent_to_sign_in_and_back(world: World) -> None:
    result = page(world, "/app?view=human", who=None)
    assert result.status_code == 303
    assert "/sandbox/sign-in?redirect_url=" in result.headers["Location"]
    assert "view%3Dhuman" in result.headers["Location"]


def test_a_forged_or_expired_cookie_is_not_a_session(world: World, jwks: Keys) -> None:
    forged = token(jwks, "owner_a", key=jwks.other)
    expired = token(jwks, "owner_a", exp=1, iat=0, nbf=0)
    for bad in (forged, expired, "not-a-jwt"):
        result = world.client.simulate_get("/app", cookies={"__session": bad})
        assert result.status_code == 303, bad
        refused = world.client.simulate_post(
            f"/app/conversations/{world.conv_a}/takeover",
            cookies={"__session": bad},
            body="csrf_token=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 401
    assert page(world, "/app").status_code == 200


def test_the_inbox_lists_the_tenants_own_conversations_with_preview_and_unread(world: World) -> None:
    add_message(world, world.a, world.conv_a, "in", "Is a drain clean expensive?")
    inbox = page(world, "/app")
    assert inbox.status_code == 200
    assert "+13105550100" in inbox.text
    assert "Is a drain clean expensive?" in inbox.text
    assert "unread-badge" in inbox.text
    page(world, f"/app/conversations/{world.conv_a}")  # reading it clears the marker, for this member only
    assert "unread-badge" not in page(world, "/app").text
    assert "unread-badge" in page(world, "/app", who="tech_a").text
    assert 'href="/app/settings"' in inbox.text


def test_the_live_refreshed_list_carries_the_view_counts(world: World) -> None:
    # A live update replaces this fragment: the counts must come with the list, or they go stale beside it.
    add_message(world, world.a, world.conv_a, "in", "Are you open today?")
    fragment = page(world, "/app/inbox/list?view=all")
    assert fragment.status_code == 200
    assert "Are you open today?" in fragment.text
    counts = dict(re.findall(r'\?view=(\w+)"[^>]*>[^<]+<span class="count">(\S+)</span>', fragment.text))
    assert set(counts) == {"open", "attention", "human", "closed", "blocked", "all"}
    assert counts["all"] == str(fragment.text.count('<li class="conversation'))


def test_thread_lists_messages_in_their_true_order_with_authors(world: World) -> None:
    # Same created_at (one transaction): the sequence decides.
    with transaction(world.sessions) as session:
        for direction, body in (("in", "first"), ("out", "second"), ("in", "third")):
            session.execute(
                text(
                    "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number,"
                    " to_number, body, status) VALUES (gen_random_uuid(), :t, :c, :d, :p, '+13105550100',"
                    " '+13105550001', :b, 'received')"
                ),
                {"t": world.a, "c": world.conv_a, "d": direction, "p": "ai_reply" if direction == "out" else None,
                 "b": body},
            )  # fmt: skip
    thread = page(world, f"/app/conversations/{world.conv_a}")
    assert thread.status_code == 200
    order = [thread.text.index(word) for word in ("first", "second", "third")]
    assert order == sorted(order)
    assert re.search(r'class="author">AI<', thread.text)
    assert re.search(r'class="author">Caller<', thread.text)


def test_a_first_text_withheld_for_a_callback_shows_why_in_the_thread_and_the_inbox(world: World) -> None:
    with transaction(world.sessions) as session:
        caller = session.execute(text("SELECT caller FROM conv_conversations WHERE id = :c"), {"c": world.conv_a})
        session.execute(
            text(
                "INSERT INTO conv_first_response_graces (id, tenant_id, conversation_id, caller, business_number,"
                " call_sid, missed_at, send_after, decided_at, decision, reason, correlation_id, causation_id)"
                " VALUES (gen_random_uuid(), :t, :c, :caller, '+13105550001', 'CA1', now() - interval '1 minute',"
                " now(), now(), 'withheld', 'staff_called_back', gen_random_uuid(), gen_random_uuid())"
            ),
            {"t": world.a, "c": world.conv_a, "caller": caller.scalar_one()},
        )
    add_message(world, world.a, world.conv_a, "in", "thanks for calling back")
    thread = page(world, f"/app/conversations/{world.conv_a}")
    assert "First text not sent: someone called them back from the business number." in thread.text
    assert "Called back: no first text" in page(world, "/app").text


def test_another_tenants_conversation_is_not_found(world: World) -> None:
    assert page(world, f"/app/conversations/{world.conv_b}").status_code == 404
    assert post(world, f"/app/conversations/{world.conv_b}/takeover", {}).status_code == 404
    assert page(world, f"/app/conversations/{uuid.uuid4()}").status_code == 404


def test_a_tech_neither_sees_nor_opens_owner_screens(world: World) -> None:
    inbox = page(world, "/app", who="tech_a")
    assert inbox.status_code == 200
    assert 'href="/app/settings"' not in inbox.text
    for path in ("/app/settings", "/app/settings/team", "/app/reports"):
        assert page(world, path, who="tech_a").status_code == 403, path
        assert page(world, path, who="owner_a").status_code == 200, path
    assert page(world, "/app/bookings", who="tech_a").status_code == 200


def test_take_over_reply_release_close_through_the_operator_use_cases(world: World) -> None:
    base = f"/app/conversations/{world.conv_a}"
    assert post(world, f"{base}/takeover", {}).status_code == 303
    reply = post(world, f"{base}/reply", {"body": "Hi, this is Olivia"})
    assert reply.status_code == 303
    assert reply.headers["Location"] == base
    assert "Hi, this is Olivia" in page(world, base).text
    assert post(world, f"{base}/release", {}).status_code == 303
    assert post(world, f"{base}/close", {}).status_code == 303
    assert post(world, f"{base}/close", {}).status_code == 409  # already closed: the use case says so
    names = outbox_names(world, world.a)
    for event in ("HumanTakeoverRequested", "OutboundMessageRequested", "HumanTakeoverReleased", "ConversationClosed"):
        assert any(name.endswith(event) for name in names), event


def test_missing_or_wrong_csrf_token_is_refused(world: World) -> None:
    base = f"/app/conversations/{world.conv_a}/takeover"
    assert post(world, base, {}, csrf="").status_code == 403
    assert post(world, base, {}, csrf="x" * 43).status_code == 403
    assert post(world, base, {}, csrf=csrf_of("owner_b")).status_code == 403  # another session's token
    with transaction(world.sessions) as session:
        state = session.execute(text("SELECT state FROM conv_conversations WHERE id = :c"), {"c": world.conv_a})
        assert state.scalar_one() == "open"


def test_a_post_from_another_origin_is_refused(world: World) -> None:
    result = world.client.simulate_post(
        f"/app/conversations/{world.conv_a}/takeover",
        cookies={"__session": token(world.keys, "owner_a", sid="sess_owner_a")},
        body=f"csrf_token={csrf_of('owner_a')}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
    )
    assert result.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        "%ZZ=1",  # not percent-encoding
        "csrf_token=a&csrf_token=b",  # a field twice
        "a" * 20_000,  # too long
        "\xff\xfe",
    ],
)
def test_malformed_form_bodies_are_400(world: World, body: str) -> None:
    result = post(world, f"/app/conversations/{world.conv_a}/reply", body)
    assert result.status_code == 400, result.text


def test_a_form_that_is_not_a_form_is_400(world: World) -> None:
    result = world.client.simulate_post(
        f"/app/conversations/{world.conv_a}/reply",
        cookies={"__session": token(world.keys, "owner_a", sid="sess_owner_a")},
        json={"body": "hi"},
    )
    assert result.status_code == 400


def test_bad_views_searches_and_cursors_are_400(world: World) -> None:
    assert page(world, "/app?view=everything").status_code == 400
    assert page(world, "/app?q=alice").status_code == 200  # a name: nobody is called that here
    assert page(world, "/app?q=ali%01ce").status_code == 400
    assert page(world, "/app?q=" + "1" * 17).status_code == 400
    assert page(world, "/app?cursor=%%%").status_code == 400
    assert page(world, "/app?q=0100").status_code == 200
    assert "+13105550100" in page(world, "/app?q=(310) 555-0100").text
    assert "+13105550100" not in page(world, "/app?q=999999").text


def test_an_empty_reply_is_422_and_sends_nothing(world: World) -> None:
    base = f"/app/conversations/{world.conv_a}"
    post(world, f"{base}/takeover", {})
    assert post(world, f"{base}/reply", {"body": "   "}).status_code == 422
    assert not any(name.endswith("OutboundMessageRequested") for name in outbox_names(world, world.a))


def test_a_reply_from_a_business_with_no_number_yet_says_so_and_sends_nothing(world: World) -> None:
    base = f"/app/conversations/{world.conv_a}"
    post(world, f"{base}/takeover", {})
    with transaction(world.sessions) as conn:
        conn.execute(text("DELETE FROM id_phone_numbers WHERE tenant_id = :t"), {"t": world.a})
    answer = post(world, f"{base}/reply", {"body": "On our way"})
    assert answer.status_code == 409
    assert "no phone number to text from" in answer.text
    assert not any(name.endswith("OutboundMessageRequested") for name in outbox_names(world, world.a))


def test_the_static_assets_are_served(world: World) -> None:
    assert "EventSource" in world.client.simulate_get("/app/static/app.js").text
    assert world.client.simulate_get("/app/static/app.css").status_code == 200


def test_the_thread_shows_delivery_status_the_blocked_reason_and_the_callers_bookings(
    world: World, sched: api_world.Sched
) -> None:
    now = datetime.now(UTC)
    with transaction(world.sessions) as session:
        conversation = uuid.uuid4()
        session.execute(
            text("INSERT INTO conv_conversations (id, tenant_id, caller, state) VALUES (:id, :t, :c, 'open')"),
            {"id": conversation, "t": world.a, "c": api_world.PHONE},
        )
        for purpose, status, preflight, body in (
            ("ai_reply", "delivered", None, "Drain cleaning is $149."),
            ("first_response", "blocked", '{"allowed": false, "reason": "campaign_not_approved"}', "Hi from A"),
            ("human_reply", "failed", None, "On my way"),
        ):
            session.execute(
                text(
                    "INSERT INTO conv_messages (id, tenant_id, conversation_id, direction, purpose, from_number,"
                    " to_number, body, status, preflight) VALUES (gen_random_uuid(), :t, :c, 'out', :p,"
                    " '+13105550001', :to, :b, :s, CAST(:pre AS jsonb))"
                ),
                {"t": world.a, "c": conversation, "p": purpose, "to": api_world.PHONE, "b": body, "s": status,
                 "pre": preflight},
            )  # fmt: skip
        for hours, book in ((9, True), (11, False)):
            request = SlotRequest(
                resource_id=uuid.UUID(sched.resource_a),
                service_item_id=uuid.UUID(sched.item_a),
                starts_at=sched.tomorrow + timedelta(hours=hours),
                ends_at=sched.tomorrow + timedelta(hours=hours + 1),
                customer_phone=api_world.PHONE,
            )
            if book:
                scheduling.book_slot(
                    session, request, tenant_id=world.a, price_cents=12500, currency="USD", now=now,
                    events=RootSink(session),
                )  # fmt: skip
            else:
                scheduling.place_hold(
                    session, request, tenant_id=world.a, now=now, ttl_minutes=15, events=RootSink(session)
                )
    thread = page(world, f"/app/conversations/{conversation}")
    assert thread.status_code == 200
    html = thread.text
    assert re.search(r'class="author">AI<.*?status-delivered">delivered<', html, re.S)
    assert re.search(r'class="author">System<.*?status-blocked">blocked<', html, re.S)
    assert "not sent: the business&#39;s 10DLC campaign is not approved yet" in html
    assert re.search(r'class="author">Staff<.*?status-failed">failed<', html, re.S)
    side = html[html.index('id="bookings-title"') :]
    assert "held until" in side  # the hold at 11:00
    assert "$125.00 · booked" in side  # the appointment at 09:00
    # Another caller's thread in the same tenant shows none of them.
    other = page(world, f"/app/conversations/{world.conv_a}").text
    assert "No slot held." in other
    assert "No appointments." in other
