"""Settings at /app/settings through falcon.testing on real Postgres: each section's happy path and bad inputs
(field errors re-render the form with what was typed, 422; a malformed body or a field the form does not own, 400),
a TECH refused (403), another tenant's ids not found (404), and a missing or wrong CSRF token refused (403)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
from sqlalchemy import text

from db.engine import transaction
from db.published_secrets import SANDBOX_GOOGLE_ACCESS_TOKEN
from domain.catalog import service as catalog
from domain.events.sink import RootSink
from domain.identity import invitations
from domain.scheduling import queries
from domain.scheduling import service as scheduling
from ingress.auth import Claims
from ingress.staff_app.csrf import token_for
from tests.support import api_world
from tests.support.api_world import World
from tests.support.clerk_jwks import token

SOON = datetime.now(UTC).date() + timedelta(days=10)
jwks = api_world.jwks
world = api_world.world


def cookies(world: World, who: str) -> dict[str, str]:
    return {"__session": token(world.keys, who, sid=f"sess_{who}")}


def page(world: World, path: str, who: str = "owner_a") -> falcon.testing.Result:
    return world.client.simulate_get(path, cookies=cookies(world, who))


def csrf_of(who: str) -> str:
    return token_for(Claims(subject=who, authorized_party=None, session_id=f"sess_{who}", raw={}))


def post(
    world: World, path: str, form: dict[str, Any] | None = None, who: str = "owner_a", *, csrf: str | None = None,
    raw: str | None = None, content_type: str = "application/x-www-form-urlencoded",
) -> falcon.testing.Result:  # fmt: skip
    if raw is None:
        fields = {"csrf_token": csrf_of(who) if csrf is None else csrf, **(form or {})}
        raw = urlencode(fields, doseq=True)
    return world.client.simulate_post(
        path, cookies=cookies(world, who), body=raw, headers={"Content-Type": content_type}
    )


def item(world: World, tenant: uuid.UUID, name: str = "Drain cleaning", price: int = 14900) -> uuid.UUID:
    with transaction(world.sessions) as session:
        return catalog.create_service_item(
            session,
            tenant_id=tenant,
            name=name,
            duration_minutes=60,
            price_cents=price,
            aliases=[f"{name.lower()} job"],
            events=RootSink(session),
        ).id


def resource(world: World, tenant: uuid.UUID, name: str = "Sam") -> uuid.UUID:
    with transaction(world.sessions) as session:
        return scheduling.create_resource(session, tenant_id=tenant, name=name, timezone="UTC").id


def value_of(html: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}"[^>]*value="([^"]*)"', html)
    assert found is not None, field_id
    return found.group(1)


# --- every route: the owner only, CSRF, malformed bodies ----------------------------------------------------------


def routes(world: World) -> tuple[list[str], list[str]]:
    item_a, res_a = item(world, world.a), resource(world, world.a)
    gets = [
        "/app/settings",
        "/app/settings/catalog",
        f"/app/settings/catalog/{item_a}",
        "/app/settings/technicians",
        f"/app/settings/technicians/{res_a}",
        "/app/settings/messages",
        "/app/settings/team",
        "/app/settings/billing",
    ]
    posts = [
        "/app/settings/catalog",
        f"/app/settings/catalog/{item_a}",
        f"/app/settings/catalog/{item_a}/deactivate",
        f"/app/settings/catalog/{item_a}/activate",
        "/app/settings/technicians",
        f"/app/settings/technicians/{res_a}/services",
        f"/app/settings/technicians/{res_a}/hours",
        f"/app/settings/technicians/{res_a}/time-off",
        f"/app/settings/technicians/{res_a}/date-hours",
        f"/app/settings/technicians/{res_a}/time-off/{uuid.uuid4()}/remove",
        f"/app/settings/technicians/{res_a}/calendar",
        "/app/settings/messages",
        "/app/settings/team/invite",
        f"/app/settings/team/{uuid.uuid4()}/role",
        f"/app/settings/team/{uuid.uuid4()}/remove",
        f"/app/settings/team/invitations/{uuid.uuid4()}/revoke",
    ]
    return gets, posts


def test_a_tech_is_refused_every_settings_route_and_sees_no_settings_link(world: World) -> None:
    gets, posts = routes(world)
    for path in gets:
        assert page(world, path).status_code == 200, path
        assert page(world, path, who="tech_a").status_code == 403, path
    for path in posts:
        assert post(world, path, {"name": "x"}, who="tech_a").status_code == 403, path
    inbox = page(world, "/app", who="tech_a")
    assert 'href="/app/settings"' not in inbox.text
    assert "/app/settings" not in page(world, "/app/bookings", who="tech_a").text


def test_every_settings_form_refuses_a_missing_or_wrong_csrf_token(world: World) -> None:
    _gets, posts = routes(world)
    for path in posts:
        assert post(world, path, {}, csrf="").status_code == 403, path
        assert post(world, path, {}, csrf=csrf_of("owner_b")).status_code == 403, path
    before = outbox_count(world)
    assert post(world, "/app/settings/catalog", {"name": "X", "price": "1", "duration_minutes": "5"},
                csrf="forged").status_code == 403  # fmt: skip
    assert outbox_count(world) == before


def outbox_count(world: World) -> int:
    with transaction(world.sessions) as session:
        return int(session.execute(text("SELECT count(*) FROM outbox_events")).scalar_one())


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ('{"name": "x"}', "application/json"),
        ("name=%zz", "application/x-www-form-urlencoded"),
        ("a" * 20000, "application/x-www-form-urlencoded"),
        ("name=a&name=b", "application/x-www-form-urlencoded"),
        ("\xff", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_a_400_page_not_a_500(world: World, raw: str, content_type: str) -> None:
    prefix = f"csrf_token={csrf_of('owner_a')}&" if content_type.endswith("urlencoded") and raw != "\xff" else ""
    for path in ("/app/settings/catalog", "/app/settings/messages", "/app/settings/team/invite"):
        result = post(world, path, raw=prefix + raw, content_type=content_type)
        assert result.status_code in (400, 403), (path, result.status_code)
        if prefix:
            assert result.status_code == 400, path
            assert "text/html" in result.headers["Content-Type"]


def test_a_form_never_sets_a_field_it_does_not_own(world: World) -> None:
    item_a = item(world, world.a)
    form = {"name": "Drain", "price": "99", "duration_minutes": "60", "aliases": "", "description": ""}
    for extra in ({"active": "false"}, {"tenant_id": str(world.b)}, {"currency": "EUR"}):
        result = post(world, f"/app/settings/catalog/{item_a}", {**form, **extra})
        assert result.status_code == 400
        assert next(iter(extra)) in result.text
    hijack = post(world, "/app/settings/messages", {"first_message": "Hi", "after_hours": "Hi", "help_text": "H",
                                                    "forward_to": "+13105550002", "name": "Evil"})  # fmt: skip
    assert hijack.status_code == 400
    with transaction(world.sessions) as session:
        row = catalog.get_service_item(session, tenant_id=world.a, service_item_id=item_a)
        assert (row.price_cents, row.currency, row.active) == (14900, "USD", True)


# --- price list ---------------------------------------------------------------------------------------------------


def test_the_owner_adds_edits_deactivates_and_reactivates_a_service(world: World) -> None:
    created = post(world, "/app/settings/catalog", {"name": "Leak repair", "price": "$1,179.50",
                                                    "duration_minutes": "90", "aliases": "pipe leak, dripping faucet",
                                                    "description": ""})  # fmt: skip
    assert created.status_code == 303
    listing = page(world, created.headers["Location"])
    assert "Service added." in listing.text
    assert "$1,179.50" in listing.text
    with transaction(world.sessions) as session:
        [row] = catalog.list_service_items(session, tenant_id=world.a)
        assert (row.price_cents, row.duration_minutes) == (117950, 90)
        assert catalog.aliases_by_item(session, tenant_id=world.a)[row.id] == ["dripping faucet", "pipe leak"]
    edit = page(world, f"/app/settings/catalog/{row.id}")
    assert value_of(edit.text, "price") == "1179.50"
    saved = post(world, f"/app/settings/catalog/{row.id}", {"name": "Leak repair", "price": "199",
                                                          "duration_minutes": "60", "aliases": "pipe leak",
                                                          "description": "Any leak"})  # fmt: skip
    assert saved.status_code == 303
    assert post(world, f"/app/settings/catalog/{row.id}/deactivate", {}).status_code == 303
    with transaction(world.sessions) as session:
        assert catalog.match_services(session, tenant_id=world.a, text="pipe leak") == []
    assert post(world, f"/app/settings/catalog/{row.id}/activate", {}).status_code == 303
    with transaction(world.sessions) as session:
        quoted = catalog.quote(session, tenant_id=world.a, service_item_id=row.id)
        assert (quoted.price_cents, quoted.duration_minutes) == (19900, 60)
    assert "nmc.catalog.ServiceItemChanged" in api_world.outbox_names(world, world.a)


@pytest.mark.parametrize(
    ("field", "bad", "says"),
    [
        ("name", "   ", "Name is required"),
        ("name", "x" * 201, "at most 200"),
        ("price", "abc", "an amount in dollars"),
        ("price", "-5", "an amount in dollars"),
        ("price", "1.234", "an amount in dollars"),
        ("price", "99999999999", "at most"),
        ("duration_minutes", "0", "from 1 to 480"),
        ("duration_minutes", "481", "from 1 to 480"),
        ("duration_minutes", "١٢", "from 1 to 480"),
        ("aliases", "x" * 101, "each at most 100"),
    ],
)
def test_a_bad_service_field_is_named_and_the_form_keeps_what_was_typed(
    world: World, field: str, bad: str, says: str
) -> None:
    form = {"name": "Water heater", "price": "289", "duration_minutes": "120", "aliases": "no hot water",
            "description": "Gas or electric", field: bad}  # fmt: skip
    result = post(world, "/app/settings/catalog", form)
    assert result.status_code == 422
    assert says in result.text
    assert 'aria-invalid="true"' in result.text
    assert "Gas or electric" in result.text  # what was typed stays
    if field != "name":
        assert value_of(result.text, "new-name") == "Water heater"
    with transaction(world.sessions) as session:
        assert catalog.list_service_items(session, tenant_id=world.a) == []


def test_a_duplicate_name_or_alias_is_a_field_error_not_a_500(world: World) -> None:
    item(world, world.a)
    same_name = post(world, "/app/settings/catalog", {"name": "Drain cleaning", "price": "1", "duration_minutes": "5",
                                                      "aliases": "", "description": ""})  # fmt: skip
    assert same_name.status_code == 422
    assert "already has this name" in same_name.text
    same_alias = post(world, "/app/settings/catalog", {"name": "Other", "price": "1", "duration_minutes": "5",
                                                       "aliases": "Drain cleaning JOB", "description": ""})  # fmt: skip
    assert same_alias.status_code == 422
    assert "already uses one of these" in same_alias.text


def test_another_tenants_service_is_not_found(world: World) -> None:
    item_b = item(world, world.b)
    form = {"name": "Mine", "price": "1", "duration_minutes": "5", "aliases": "", "description": ""}
    assert page(world, f"/app/settings/catalog/{item_b}").status_code == 404
    assert post(world, f"/app/settings/catalog/{item_b}", form).status_code == 404
    assert post(world, f"/app/settings/catalog/{item_b}/deactivate", {}).status_code == 404
    assert post(world, f"/app/settings/catalog/{uuid.uuid4()}/activate", {}).status_code == 404
    with transaction(world.sessions) as session:
        assert catalog.get_service_item(session, tenant_id=world.b, service_item_id=item_b).name == "Drain cleaning"


# --- technicians --------------------------------------------------------------------------------------------------


def test_the_owner_adds_a_technician_and_sets_services_hours_time_off_and_date_hours(world: World) -> None:
    drain, leak = item(world, world.a), item(world, world.a, "Leak repair")
    created = post(world, "/app/settings/technicians", {"name": "Mike"})
    assert created.status_code == 303
    resource_id = uuid.UUID(created.headers["Location"].split("/")[-1].split("?")[0])
    base = f"/app/settings/technicians/{resource_id}"
    assert post(world, f"{base}/services", {"service": [str(drain)]}).status_code == 303
    hours = {f"hours_{day}": "08:00-12:00, 13:00-17:00" if day < 5 else "" for day in range(7)}
    assert post(world, f"{base}/hours", hours).status_code == 303
    soon = datetime.now(UTC).date() + timedelta(days=3)
    assert post(world, f"{base}/time-off", {"first_day": soon.isoformat(), "last_day": "",
                                             "reason": "Dentist"}).status_code == 303  # fmt: skip
    later = soon + timedelta(days=7)
    assert post(world, f"{base}/date-hours", {"day": later.isoformat(), "hours": "10:00-11:00"}).status_code == 303
    detail = page(world, base)
    assert "Dentist" in detail.text
    assert value_of(detail.text, "hours-hours_0") == "08:00-12:00, 13:00-17:00"
    assert f'value="{drain}" checked' in detail.text
    assert f'value="{leak}" checked' not in detail.text
    with transaction(world.sessions) as session:
        record = queries.find_resource(session, tenant_id=world.a, resource_id=resource_id)
        assert record is not None
        assert record.service_item_ids == (drain,)
        assert len(record.working_hours) == 10
        [off] = queries.list_time_off(session, tenant_id=world.a, resource_id=resource_id, business_wide=False)
        assert (off.first_day, off.last_day) == (soon, soon)
        assert [(d.day, d.starts_local) for d in queries.list_date_hours(
            session, tenant_id=world.a, resource_id=resource_id, from_day=soon)] == [(later, time(10))]  # fmt: skip
    assert post(world, f"{base}/time-off/{off.id}/remove", {}).status_code == 303
    assert "Dentist" not in page(world, base).text


@pytest.mark.parametrize(
    ("action", "form", "says"),
    [
        ("hours", {"hours_0": "9-5"}, "Monday: e.g. 08:00-17:00"),
        ("hours", {"hours_1": "17:00-08:00"}, "Tuesday: each end must be after its start"),
        ("hours", {"hours_2": "08:00-12:00, 11:00-13:00"}, "Wednesday: the shifts overlap"),
        ("time-off", {"first_day": "31/01/2030", "last_day": "", "reason": ""}, "First day: a date like"),
        ("time-off", {"first_day": str(SOON + timedelta(9)), "last_day": str(SOON), "reason": ""}, "on or after the"),
        ("time-off", {"first_day": str(SOON), "last_day": str(SOON + timedelta(400)), "reason": ""}, "at most 366"),
        ("time-off", {"first_day": "9999-01-01", "last_day": "", "reason": ""}, "within two years"),
        ("date-hours", {"day": "", "hours": "09:00-10:00"}, "Date: a date like"),
        ("date-hours", {"day": "2030-01-05", "hours": "late"}, "Hours that day: e.g."),
    ],
)
def test_a_bad_technician_form_is_named_beside_its_field(
    world: World, action: str, form: dict[str, str], says: str
) -> None:
    resource_id = resource(world, world.a)
    if action == "hours":
        form = {**{f"hours_{day}": "08:00-17:00" for day in range(7)}, **form}
    result = post(world, f"/app/settings/technicians/{resource_id}/{action}", form)
    assert result.status_code == 422
    assert says in result.text
    assert 'aria-invalid="true"' in result.text
    with transaction(world.sessions) as session:
        assert queries.list_time_off(session, tenant_id=world.a, resource_id=resource_id, business_wide=False) == []
        record = queries.find_resource(session, tenant_id=world.a, resource_id=resource_id)
        assert record is not None
        assert record.working_hours == ()


def test_another_tenants_technician_service_or_time_off_is_not_found(world: World) -> None:
    res_a, res_b, item_b = resource(world, world.a), resource(world, world.b), item(world, world.b)
    with transaction(world.sessions) as session:
        off_b = scheduling.add_time_off(
            session, tenant_id=world.b, resource_id=res_b, first_day=datetime.now(UTC).date(),
            last_day=datetime.now(UTC).date(),
        ).id  # fmt: skip
    base_b = f"/app/settings/technicians/{res_b}"
    assert page(world, base_b).status_code == 404
    assert post(world, f"{base_b}/hours", {"hours_0": "08:00-09:00"}).status_code == 404
    assert (
        post(world, f"{base_b}/time-off", {"first_day": "2030-01-01", "last_day": "", "reason": ""}).status_code == 404
    )
    assert post(world, f"{base_b}/date-hours", {"day": "2030-01-01", "hours": ""}).status_code == 404
    assert post(world, f"{base_b}/time-off/{off_b}/remove", {}).status_code == 404
    assert post(world, f"/app/settings/technicians/{res_a}/time-off/{off_b}/remove", {}).status_code == 404
    assert post(world, f"/app/settings/technicians/{res_a}/services", {"service": [str(item_b)]}).status_code == 404
    assert post(world, f"/app/settings/technicians/{res_a}/services", {"service": ["nope"]}).status_code == 400
    with transaction(world.sessions) as session:
        assert len(queries.list_time_off(session, tenant_id=world.b, resource_id=res_b, business_wide=False)) == 1


# --- messages and numbers -----------------------------------------------------------------------------------------

MESSAGES = {
    "first_message": "Hi, {business} here: sorry we missed you!",
    "after_hours": "{business} is closed, but text us what you need.",
    "help_text": "{business}: reply STOP to opt out.",
    "forward_to": "+13105550022",
    "owner_mobile": "+13105550033",
}


def test_the_owner_changes_the_texts_and_numbers(world: World) -> None:
    assert post(world, "/app/settings/messages", MESSAGES).status_code == 303
    shown = page(world, "/app/settings/messages?saved=1")
    assert "Saved." in shown.text
    assert value_of(shown.text, "owner_mobile") == "+13105550033"
    with transaction(world.sessions) as session:
        row = session.execute(
            text("SELECT first_message_template, after_hours_template, help_text, forward_to, owner_mobile"
                 " FROM id_tenants WHERE id = :t"), {"t": world.a},
        ).one()  # fmt: skip
    assert tuple(row) == tuple(MESSAGES.values())
    assert post(world, "/app/settings/messages", {**MESSAGES, "owner_mobile": ""}).status_code == 303
    with transaction(world.sessions) as session:
        assert (
            session.execute(text("SELECT owner_mobile FROM id_tenants WHERE id = :t"), {"t": world.a}).scalar() is None
        )
        assert (
            session.execute(text("SELECT help_text FROM id_tenants WHERE id = :t"), {"t": world.b}).scalar()
            != (MESSAGES["help_text"])
        )


@pytest.mark.parametrize(
    ("field", "bad", "says"),
    [
        ("first_message", "  ", "First message: write the message"),
        ("after_hours", "x" * 641, "After-hours message: at most 640"),
        ("help_text", "Hi {name}", "the only placeholder is {business}"),
        ("first_message", "Hi {business", "the only placeholder is {business}"),
        ("forward_to", "310-555-0022", "Forward calls to: enter the number in E.164 form"),
        ("forward_to", "+1310555", "Forward calls to: "),
        ("owner_mobile", "call me", "mobile: enter the number in E.164 form"),
    ],
)
def test_a_bad_text_or_number_is_named_and_nothing_changes(world: World, field: str, bad: str, says: str) -> None:
    result = post(world, "/app/settings/messages", {**MESSAGES, field: bad})
    assert result.status_code == 422
    assert says in result.text
    assert 'aria-invalid="true"' in result.text
    kept = "{business} is closed, but text us what you need." if field != "after_hours" else MESSAGES["first_message"]
    assert kept.replace("'", "&#39;") in result.text
    with transaction(world.sessions) as session:
        assert session.execute(text("SELECT forward_to FROM id_tenants WHERE id = :t"), {"t": world.a}).scalar() == (
            "+13105550002"
        )


def spanish_replies(world: World) -> bool:
    with transaction(world.sessions) as session:
        query = text("SELECT spanish_replies FROM id_tenants WHERE id = :t")
        return bool(session.execute(query, {"t": world.a}).scalar())


def test_the_owner_turns_spanish_replies_off_and_on(world: World) -> None:
    assert spanish_replies(world)  # on unless the owner turns it off
    assert 'id="spanish_replies" name="spanish_replies" value="on"' in page(world, "/app/settings/messages").text
    assert post(world, "/app/settings/messages", MESSAGES).status_code == 303  # an unticked box is not sent
    assert not spanish_replies(world)
    assert " checked" not in page(world, "/app/settings/messages").text.split('id="spanish_replies"')[1][:80]
    assert post(world, "/app/settings/messages", {**MESSAGES, "spanish_replies": "on"}).status_code == 303
    assert spanish_replies(world)
    result = post(world, "/app/settings/messages", {**MESSAGES, "spanish_replies": "si"})
    assert result.status_code == 422
    assert "Spanish: tick the box or leave it empty" in result.text
    assert spanish_replies(world)


def test_the_owner_sets_the_callback_grace_period_and_a_bad_one_is_named(world: World) -> None:
    assert value_of(page(world, "/app/settings/messages").text, "callback_grace_seconds") == "0"
    assert post(world, "/app/settings/messages", {**MESSAGES, "callback_grace_seconds": "45"}).status_code == 303
    assert value_of(page(world, "/app/settings/messages").text, "callback_grace_seconds") == "45"
    for bad, says in (("121", "at most 120 seconds"), ("-5", "from 0 to 120"), ("soon", "from 0 to 120")):
        result = post(world, "/app/settings/messages", {**MESSAGES, "callback_grace_seconds": bad})
        assert result.status_code == 422
        assert "Wait for a callback: " in result.text
        assert says in result.text
    with transaction(world.sessions) as session:
        grace = text("SELECT callback_grace_seconds FROM id_tenants WHERE id = :t")
        assert session.execute(grace, {"t": world.a}).scalar() == 45
        assert session.execute(grace, {"t": world.b}).scalar() == 0


def test_the_owner_links_a_technicians_calendar_and_the_token_is_never_shown(world: World) -> None:
    resource_id = resource(world, world.a)
    base = f"/app/settings/technicians/{resource_id}"
    token = "s3cret-token"
    form = {"provider": "google", "external_ref": "sam@acme.example", "access_token": token, "refresh_token": ""}
    linked = post(world, f"{base}/calendar", {**form, "jobber_job_id": ""})
    assert linked.status_code == 303, linked.text
    shown = page(world, f"{base}?saved=calendar")
    assert "Calendar linked" in shown.text
    # The page's title is text, and the calendar section is on the page once (a template once put it in the title).
    assert re.search(r"<title>[^<]*Technicians[^<]*</title>", shown.text), shown.text[:400]
    assert shown.text.count('id="calendar-title"') == 1
    assert "Google · sam@acme.example · linked" in shown.text
    assert token not in shown.text
    # Locally the form names the tokens the sandbox's calendar stand-ins accept (published, like the sandbox's own).
    assert "Running locally" in shown.text
    assert SANDBOX_GOOGLE_ACCESS_TOKEN in shown.text
    for form, says in (
        ({"provider": "outlook", "external_ref": "x", "access_token": token}, "Calendar: google or jobber"),
        ({"provider": "jobber", "external_ref": "acct/user", "access_token": token}, "Jobber job: cannot be empty"),
        ({"provider": "google", "external_ref": "x", "access_token": " "}, "Access token: cannot be empty"),
    ):
        result = post(world, f"{base}/calendar", form)
        assert result.status_code == 422
        assert says in result.text
        assert token not in result.text
    with transaction(world.sessions) as session:
        stored = session.execute(text("SELECT access_token FROM sched_calendar_credentials")).scalar_one()
    assert token.encode() not in bytes(stored)


def test_a_messages_form_missing_a_field_is_a_400(world: World) -> None:
    assert post(world, "/app/settings/messages", {"first_message": "Hi"}).status_code == 400


# --- team ---------------------------------------------------------------------------------------------------------


def member_id(world: World, tenant: uuid.UUID, clerk_user_id: str) -> uuid.UUID:
    with transaction(world.sessions) as session:
        return session.execute(
            text("SELECT id FROM id_users WHERE clerk_user_id = :c"), {"c": clerk_user_id}
        ).scalar_one()


def test_the_owner_invites_changes_a_role_withdraws_and_removes(world: World) -> None:
    invited = post(world, "/app/settings/team/invite", {"email": "New.Tech@Example.test", "role": "TECH",
                                                        "mobile": "+13105550044"})  # fmt: skip
    assert invited.status_code == 201
    code = re.search(r'id="invitation-token">([^<]+)<', invited.text)
    assert code is not None
    assert "new.tech@example.test" in invited.text
    with transaction(world.sessions) as session:
        accepted = invitations.accept(
            session,
            token=code.group(1),
            clerk_user_id="new_tech",
            email="new.tech@example.test",
            name=None,
            events=RootSink(session),
        )
    tech = member_id(world, world.a, "tech_a")
    assert post(world, f"/app/settings/team/{tech}/role", {"role": "OWNER"}).status_code == 303
    assert post(world, f"/app/settings/team/{accepted.user_id}/remove", {}).status_code == 303
    again = post(world, "/app/settings/team/invite", {"email": "later@example.test", "role": "OWNER", "mobile": ""})
    assert again.status_code == 201
    with transaction(world.sessions) as session:
        [pending] = invitations.list_open(session, world.a)
    assert post(world, f"/app/settings/team/invitations/{pending.id}/revoke", {}).status_code == 303
    team = page(world, "/app/settings/team?saved=revoked")
    assert "Invitation withdrawn" in team.text
    assert "later@example.test" not in team.text
    names = api_world.outbox_names(world, world.a)
    assert {
        "nmc.identity.InvitationCreated",
        "nmc.identity.MembershipRemoved",
        "nmc.identity.InvitationRevoked",
    } <= set(names)


def test_the_last_owner_is_never_demoted_or_removed_and_the_page_says_why(world: World) -> None:
    owner = member_id(world, world.a, "owner_a")
    for path, form in (
        (f"/app/settings/team/{owner}/role", {"role": "TECH"}),
        (f"/app/settings/team/{owner}/remove", {}),
    ):
        result = post(world, path, form)
        assert result.status_code == 409
        assert "a tenant keeps at least one OWNER" in result.text
        assert 'role="alert"' in result.text
    with transaction(world.sessions) as session:
        role = session.execute(
            text("SELECT role FROM id_memberships WHERE user_id = :u AND tenant_id = :t"), {"u": owner, "t": world.a}
        ).scalar()
    assert role == "OWNER"


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"email": "not-an-email", "role": "TECH", "mobile": ""}, 422, "Email: an address like"),
        ({"email": "", "role": "TECH", "mobile": ""}, 422, "Email is required"),
        ({"email": "a@example.test", "role": "ADMIN", "mobile": ""}, 422, "Role: choose Owner or Technician"),
        ({"email": "a@example.test", "role": "TECH", "mobile": "555"}, 422, "Mobile: enter the number in E.164"),
        ({"email": "tech_a@example.test", "role": "TECH", "mobile": ""}, 409, "already a member"),
    ],
)
def test_a_bad_invitation_is_named_and_keeps_what_was_typed(
    world: World, form: dict[str, str], status: int, says: str
) -> None:
    result = post(world, "/app/settings/team/invite", form)
    assert result.status_code == status
    assert says in result.text
    if form["email"]:
        assert value_of(result.text, "invite-email") == form["email"]
    with transaction(world.sessions) as session:
        assert invitations.list_open(session, world.a) == []


def test_another_tenants_member_or_invitation_is_not_found(world: World) -> None:
    owner_b = member_id(world, world.b, "owner_b")
    with transaction(world.sessions) as session:
        issued = invitations.invite(session, tenant_id=world.b, email="x@example.test", role="TECH",
                                    ttl=timedelta(hours=1), events=RootSink(session))  # fmt: skip
    assert post(world, f"/app/settings/team/{owner_b}/role", {"role": "TECH"}).status_code == 404
    assert post(world, f"/app/settings/team/{world.user_b}/remove", {}).status_code == 404
    assert post(world, f"/app/settings/team/invitations/{issued.invitation.id}/revoke", {}).status_code == 404
    assert post(world, f"/app/settings/team/{owner_b}/role", {"role": "BOSS"}).status_code == 400
    with transaction(world.sessions) as session:
        assert [i.id for i in invitations.list_open(session, world.b)] == [issued.invitation.id]


# --- billing and 10DLC (read-only) --------------------------------------------------------------------------------


def test_billing_shows_the_plan_gates_and_the_campaign_status_read_only(world: World) -> None:
    billing_a = page(world, "/app/settings/billing")
    assert billing_a.status_code == 200
    assert "starter" in billing_a.text
    assert "Texting callers" in billing_a.text
    assert "approved" in billing_a.text
    assert "<form" not in billing_a.text.split("<main", 1)[1].replace('class="signout"', "")
    billing_b = world.client.simulate_get("/app/settings/billing", cookies=cookies(world, "owner_b"))
    assert "pending" in billing_b.text
    assert "Waiting for the carriers" in billing_b.text
    assert world.client.simulate_post("/app/settings/billing", cookies=cookies(world, "owner_a")).status_code == 405


def test_the_overview_links_every_section(world: World) -> None:
    overview = page(world, "/app/settings")
    for href in ("catalog", "technicians", "messages", "team", "billing"):
        assert f'href="/app/settings/{href}"' in overview.text
    assert 'aria-current="page"' in overview.text
