"""The staff app's bookings screen (/app/bookings) through falcon.testing on real Postgres: the day and week views
in the tenant's time zone, booking from real open slots, cancelling, rescheduling, the 409 with alternatives, and
what another tenant, a TECH, a missing CSRF token and a malformed form can do."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from db.engine import transaction
from domain.catalog import service as catalog
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.availability import Shift
from domain.scheduling.records import SlotRequest
from tests.support import api_world
from tests.support.api_world import PHONE, Sched, World, outbox_names
from tests.support.staff_pages import csrf_of, get_page, post_form, session_cookie

jwks = api_world.jwks
world = api_world.world
sched = api_world.sched

LA = ZoneInfo("America/Los_Angeles")


def _slot(resource: str, starts_at: datetime) -> str:
    return f"{resource}@{starts_at.isoformat()}"


def _book_directly(world: World, tenant: uuid.UUID, resource: str, item: str, starts_at: datetime, minutes: int = 60,
                   *, enforce_hours: bool = True) -> uuid.UUID:  # fmt: skip
    with transaction(world.sessions) as session:
        row = scheduling.book_slot(
            session,
            SlotRequest(
                resource_id=uuid.UUID(resource),
                service_item_id=uuid.UUID(item),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                customer_phone=PHONE,
            ),
            tenant_id=tenant,
            price_cents=12500,
            currency="USD",
            now=datetime.now(UTC),
            events=RootSink(session),
            enforce_hours=enforce_hours,
        )
        return row.id


def _appointments(world: World, tenant: uuid.UUID) -> list[tuple[datetime, str]]:
    with transaction(world.sessions) as session:
        rows = session.execute(
            text(
                "SELECT lower(timeslot), status FROM sched_appointments WHERE tenant_id = :t ORDER BY lower(timeslot)"
            ),
            {"t": tenant},
        )
        return [(row[0], row[1]) for row in rows]


def _entries(html: str) -> list[tuple[str, str]]:
    """(kind, id) of every calendar entry on the page, in order."""
    return re.findall(r'data-kind="(\w+)" data-id="([0-9a-f-]+)"', html)


def test_the_day_view_shows_appointments_holds_and_external_busy_time(world: World, sched: Sched) -> None:
    booked = _book_directly(world, world.a, sched.resource_a, sched.item_a, sched.tomorrow + timedelta(hours=9))
    now = datetime.now(UTC)
    with transaction(world.sessions) as session:
        hold = scheduling.place_hold(
            session,
            SlotRequest(
                resource_id=uuid.UUID(sched.resource_a),
                service_item_id=uuid.UUID(sched.item_a),
                starts_at=sched.tomorrow + timedelta(hours=11),
                ends_at=sched.tomorrow + timedelta(hours=12),
                customer_phone=PHONE,
            ),
            tenant_id=world.a,
            now=now,
            ttl_minutes=15,
            events=RootSink(session),
        )
        calendar = scheduling.add_calendar(
            session, tenant_id=world.a, resource_id=uuid.UUID(sched.resource_a), provider="google", external_ref="x"
        )
        busy = session.execute(
            text(
                "INSERT INTO sched_external_busy (id, tenant_id, calendar_id, resource_id, timeslot) VALUES"
                " (gen_random_uuid(), :t, :c, :r, tstzrange(:s, :e)) RETURNING id"
            ),
            {"t": world.a, "c": calendar.id, "r": sched.resource_a, "s": sched.tomorrow + timedelta(hours=14),
             "e": sched.tomorrow + timedelta(hours=15)},
        ).scalar_one()  # fmt: skip
    day = sched.tomorrow.date().isoformat()
    result = get_page(world, "/app/bookings", params={"date": day})
    assert result.status_code == 200, result.text
    assert _entries(result.text) == [("appointment", str(booked)), ("hold", str(hold.id)), ("busy", str(busy))]
    assert "9:00 AM – 10:00 AM" in result.text
    assert "Leak repair · $125.00 · +13105550199" in result.text
    assert "External calendar" in result.text
    assert f'action="/app/bookings/{booked}/cancel"' in result.text
    assert re.search(r'<h2 id="col-1">Sam</h2>', result.text)
    # Another tenant's appointment and hold on the same day are not on this tenant's calendar.
    assert sched.appointment_b not in result.text
    assert sched.hold_b not in result.text
    # The week view of the same technician has the same entries in that day's column.
    week = get_page(world, "/app/bookings", params={"date": day, "view": "week", "resource": sched.resource_a})
    assert week.status_code == 200
    assert [entry for entry in _entries(week.text) if entry[0] == "appointment"] == [("appointment", str(booked))]
    assert week.text.count('class="calendar-column"') == 7
    # The day before is empty.
    before = get_page(world, "/app/bookings", params={"date": (sched.tomorrow.date() - timedelta(days=1)).isoformat()})
    assert _entries(before.text) == []


def test_book_from_the_open_slots_then_cancel(world: World, sched: Sched) -> None:
    day = sched.tomorrow.date().isoformat()
    form = get_page(world, "/app/bookings/new", params={"service": sched.item_a, "date": day})
    assert form.status_code == 200, form.text
    offered = re.findall(r'name="slot" value="([^"]+)"', form.text)
    nine = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=9))
    assert nine in offered
    assert offered[0] == _slot(sched.resource_a, sched.tomorrow + timedelta(hours=8))
    assert 'name="csrf_token"' in form.text

    booked = post_form(
        world, "/app/bookings", {"service_item_id": sched.item_a, "slot": nine, "customer_phone": "(310) 555-0199"}
    )
    assert booked.status_code == 303, booked.text
    assert booked.headers["Location"] == f"/app/bookings?date={day}&done=booked"
    assert _appointments(world, world.a) == [(sched.tomorrow + timedelta(hours=9), "booked")]
    assert "nmc.scheduling.AppointmentBooked" in outbox_names(world, world.a)

    calendar = get_page(world, booked.headers["Location"])
    assert "Booked." in calendar.text
    [(kind, appointment_id)] = _entries(calendar.text)
    assert kind == "appointment"
    # The booked hour is no longer offered.
    again = get_page(world, "/app/bookings/new", params={"service": sched.item_a, "date": day})
    assert nine not in re.findall(r'name="slot" value="([^"]+)"', again.text)

    cancelled = post_form(world, f"/app/bookings/{appointment_id}/cancel", {})
    assert cancelled.status_code == 303
    assert cancelled.headers["Location"] == f"/app/bookings?date={day}&done=cancelled"
    assert _appointments(world, world.a) == [(sched.tomorrow + timedelta(hours=9), "cancelled")]
    assert "nmc.scheduling.AppointmentCancelled" in outbox_names(world, world.a)
    assert _entries(get_page(world, f"/app/bookings?date={day}").text) == []
    # Cancelling twice changes nothing (as in the API).
    assert post_form(world, f"/app/bookings/{appointment_id}/cancel", {}).status_code == 303
    assert outbox_names(world, world.a).count("nmc.scheduling.AppointmentCancelled") == 1


def test_a_conflicting_booking_is_409_with_alternatives_and_changes_nothing(world: World, sched: Sched) -> None:
    _book_directly(world, world.a, sched.resource_a, sched.item_a, sched.tomorrow + timedelta(hours=9))
    taken = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=9, minutes=30))
    result = post_form(
        world, "/app/bookings", {"service_item_id": sched.item_a, "slot": taken, "customer_phone": "+13105550123"}
    )
    assert result.status_code == 409, result.text
    assert "another appointment or hold overlaps it" in result.text
    alternatives = re.findall(r'name="slot" value="([^"]+)"', result.text)
    assert len(alternatives) == 3
    assert taken not in alternatives
    # Each alternative is a form that books it, with the service, the phone and the CSRF token carried over.
    assert result.text.count('action="/app/bookings"') == 3
    assert 'name="customer_phone" value="+13105550123"' in result.text
    assert 'name="csrf_token"' in result.text
    assert _appointments(world, world.a) == [(sched.tomorrow + timedelta(hours=9), "booked")]

    first = alternatives[0]
    chosen = post_form(
        world, "/app/bookings", {"service_item_id": sched.item_a, "slot": first, "customer_phone": "+13105550123"}
    )
    assert chosen.status_code == 303, chosen.text
    assert len(_appointments(world, world.a)) == 2


def test_reschedule_moves_the_appointment_and_a_taken_time_is_409(world: World, sched: Sched) -> None:
    moving = _book_directly(world, world.a, sched.resource_a, sched.item_a, sched.tomorrow + timedelta(hours=9))
    _book_directly(world, world.a, sched.resource_a, sched.item_a, sched.tomorrow + timedelta(hours=13))
    day = sched.tomorrow.date().isoformat()
    page = get_page(world, f"/app/bookings/{moving}/reschedule", params={"date": day})
    assert page.status_code == 200, page.text
    offered = re.findall(r'name="slot" value="([^"]+)"', page.text)
    assert _slot(sched.resource_a, sched.tomorrow + timedelta(hours=15)) in offered
    assert _slot(sched.resource_a, sched.tomorrow + timedelta(hours=13)) not in offered

    refused = post_form(
        world,
        f"/app/bookings/{moving}/reschedule",
        {"slot": _slot(sched.resource_a, sched.tomorrow + timedelta(hours=13))},
    )
    assert refused.status_code == 409, refused.text
    assert len(re.findall(r'name="slot" value="([^"]+)"', refused.text)) >= 1
    assert f'action="/app/bookings/{moving}/reschedule"' in refused.text
    assert _appointments(world, world.a)[0] == (sched.tomorrow + timedelta(hours=9), "booked")

    moved = post_form(
        world,
        f"/app/bookings/{moving}/reschedule",
        {"slot": _slot(sched.resource_a, sched.tomorrow + timedelta(hours=15))},
    )
    assert moved.status_code == 303, moved.text
    assert moved.headers["Location"] == f"/app/bookings?date={day}&done=rescheduled"
    assert [start for start, _ in _appointments(world, world.a)] == [
        sched.tomorrow + timedelta(hours=13),
        sched.tomorrow + timedelta(hours=15),
    ]
    assert "nmc.scheduling.AppointmentRescheduled" in outbox_names(world, world.a)


def test_another_tenants_appointment_resource_and_service_are_not_found(world: World, sched: Sched) -> None:
    theirs = sched.appointment_b
    assert post_form(world, f"/app/bookings/{theirs}/cancel", {}).status_code == 404
    assert get_page(world, f"/app/bookings/{theirs}/reschedule").status_code == 404
    slot = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=15))
    assert post_form(world, f"/app/bookings/{theirs}/reschedule", {"slot": slot}).status_code == 404
    assert get_page(world, "/app/bookings", params={"resource": sched.resource_b}).status_code == 404
    assert get_page(world, "/app/bookings/new", params={"service": sched.item_b}).status_code == 404
    assert (
        get_page(world, "/app/bookings/new", params={"service": sched.item_a, "resource": sched.resource_b}).status_code
        == 404
    )
    their_slot = _slot(sched.resource_b, sched.tomorrow + timedelta(hours=15))
    booked = post_form(
        world, "/app/bookings", {"service_item_id": sched.item_a, "slot": their_slot, "customer_phone": PHONE}
    )
    assert booked.status_code == 404
    assert post_form(world, f"/app/bookings/{uuid.uuid4()}/cancel", {}).status_code == 404
    # Tenant B's appointment is untouched.
    assert _appointments(world, world.b) == [(sched.tomorrow + timedelta(hours=9), "booked")]


def test_a_tech_views_books_reschedules_and_cancels_as_in_the_api(world: World, sched: Sched) -> None:
    day = sched.tomorrow.date().isoformat()
    assert get_page(world, "/app/bookings", who="tech_a").status_code == 200
    nine = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=9))
    booked = post_form(world, "/app/bookings", {"service_item_id": sched.item_a, "slot": nine, "customer_phone": PHONE},
                       who="tech_a")  # fmt: skip
    assert booked.status_code == 303, booked.text
    [(_, appointment_id)] = _entries(get_page(world, f"/app/bookings?date={day}", who="tech_a").text)
    ten = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=10))
    assert (
        post_form(world, f"/app/bookings/{appointment_id}/reschedule", {"slot": ten}, who="tech_a").status_code == 303
    )
    assert post_form(world, f"/app/bookings/{appointment_id}/cancel", {}, who="tech_a").status_code == 303
    assert _appointments(world, world.a) == [(sched.tomorrow + timedelta(hours=10), "cancelled")]


def test_every_bookings_form_without_its_csrf_token_is_403(world: World, sched: Sched) -> None:
    appointment = _book_directly(world, world.a, sched.resource_a, sched.item_a, sched.tomorrow + timedelta(hours=9))
    ten = _slot(sched.resource_a, sched.tomorrow + timedelta(hours=10))
    for path, form in (
        ("/app/bookings", {"service_item_id": sched.item_a, "slot": ten, "customer_phone": PHONE}),
        (f"/app/bookings/{appointment}/cancel", {}),
        (f"/app/bookings/{appointment}/reschedule", {"slot": ten}),
    ):
        assert post_form(world, path, form, csrf=False).status_code == 403, path
        stranger = {**form, "csrf_token": csrf_of("someone_else")}
        assert post_form(world, path, stranger, csrf=False).status_code == 403, path
        # Another member's token is not this member's.
        assert post_form(world, path, {**form, "csrf_token": csrf_of("tech_a")}, csrf=False).status_code == 403
    assert _appointments(world, world.a) == [(sched.tomorrow + timedelta(hours=9), "booked")]


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"slot": "x@2030-01-01T09:00:00+00:00", "customer_phone": PHONE}, 400),  # no service
        ({"service_item_id": "nope", "slot": "@", "customer_phone": PHONE}, 400),
        ({"service_item_id": "SERVICE", "slot": "not-a-slot", "customer_phone": PHONE}, 400),
        ({"service_item_id": "SERVICE", "slot": "RESOURCE@tomorrow", "customer_phone": PHONE}, 400),
        ({"service_item_id": "SERVICE", "slot": "RESOURCE@2030-01-01T09:00:00", "customer_phone": PHONE}, 400),
        ({"service_item_id": "SERVICE", "slot": "RESOURCE@NINE", "customer_phone": "call me"}, 422),
        ({"service_item_id": "SERVICE", "slot": "RESOURCE@NINE"}, 422),
        ({"service_item_id": "SERVICE", "slot": "RESOURCE@2001-01-01T09:00:00+00:00", "customer_phone": PHONE}, 422),
    ],
)
def test_malformed_or_invalid_booking_forms_are_4xx(world: World, sched: Sched, form: dict[str, str],
                                                     status: int) -> None:  # fmt: skip
    nine = (sched.tomorrow + timedelta(hours=9)).isoformat()
    filled = {
        key: value.replace("SERVICE", sched.item_a).replace("RESOURCE", sched.resource_a).replace("NINE", nine)
        for key, value in form.items()
    }
    result = post_form(world, "/app/bookings", filled)
    assert result.status_code == status, result.text
    assert _appointments(world, world.a) == []


def test_malformed_bodies_and_queries_are_400(world: World, sched: Sched) -> None:
    for body in ("%zz", "slot=a&slot=b", "csrf_token=x&%E0%A4%A=1"):
        assert post_form(world, "/app/bookings", body).status_code == 400, body
    for params in ({"view": "month"}, {"date": "tomorrow"}, {"date": "9999-01-01"}, {"resource": "sam"}):
        assert get_page(world, "/app/bookings", params=params).status_code == 400, params
    assert get_page(world, "/app/bookings/new", params={"service": "leak"}).status_code == 400
    not_json = world.client.simulate_post(
        "/app/bookings",
        cookies=session_cookie(world, "owner_a"),
        body="{}",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400


def test_days_are_the_tenants_local_days(world: World) -> None:
    """A tenant in Los Angeles: an appointment at 23:30 local is on that local day (in UTC it is the next day),
    and the booking form offers times in local hours."""
    today = datetime.now(LA).date()
    day = today + timedelta(days=2)
    with transaction(world.sessions) as session:
        session.execute(text("UPDATE id_tenants SET timezone = 'America/Los_Angeles' WHERE id = :t"), {"t": world.a})
        item = catalog.create_service_item(
            session,
            tenant_id=world.a,
            name="Quick check",
            duration_minutes=30,
            price_cents=5000,
            events=RootSink(session),
        )
        lee = scheduling.create_resource(session, tenant_id=world.a, name="Lee", timezone="America/Los_Angeles")
        scheduling.set_working_hours(
            session, tenant_id=world.a, resource_id=lee.id, shifts=[Shift(d, time(8), time(18)) for d in range(7)]
        )
    late = datetime.combine(day, time(23, 30), tzinfo=LA)
    assert late.astimezone(UTC).date() == day + timedelta(days=1)
    appointment = _book_directly(world, world.a, str(lee.id), str(item.id), late.astimezone(UTC), 30,
                                 enforce_hours=False)  # fmt: skip

    on_the_day = get_page(world, "/app/bookings", params={"date": day.isoformat()})
    assert _entries(on_the_day.text) == [("appointment", str(appointment))]
    assert "11:30 PM – 12:00 AM" in on_the_day.text
    assert "Times in America/Los_Angeles" in on_the_day.text
    assert _entries(get_page(world, "/app/bookings", params={"date": (day + timedelta(days=1)).isoformat()}).text) == []
    week = get_page(world, "/app/bookings", params={"date": day.isoformat(), "view": "week"})
    columns = week.text.split('class="calendar-column"')[1:]
    assert [str(appointment) in column for column in columns] == [d == day.weekday() for d in range(7)]

    form = get_page(world, "/app/bookings/new", params={"service": str(item.id), "date": day.isoformat()})
    offered = re.findall(r'name="slot" value="([^"]+)@([^"]+)"', form.text)
    starts = [datetime.fromisoformat(start).astimezone(LA) for _, start in offered]
    assert starts[0] == datetime.combine(day, time(8), tzinfo=LA)
    assert starts[-1] == datetime.combine(day, time(17, 30), tzinfo=LA)
    assert "8:00 AM" in form.text

    # Cancelling sends the browser back to the appointment's local day, not its UTC day.
    cancelled = post_form(world, f"/app/bookings/{appointment}/cancel", {})
    assert parse_qs(urlsplit(cancelled.headers["Location"]).query)["date"] == [day.isoformat()]


def test_the_placeholder_is_gone_and_the_nav_marks_bookings(world: World, sched: Sched) -> None:
    result = get_page(world, "/app/bookings")
    assert result.status_code == 200
    assert "not built yet" not in result.text
    assert re.search(r'href="/app/bookings" aria-current="page"', result.text)
    assert (
        date.fromisoformat(re.search(r'name="date" type="date" value="([0-9-]+)"', result.text)[1])
        == datetime.now(UTC).date()
    )
