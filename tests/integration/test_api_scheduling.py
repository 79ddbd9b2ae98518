"""/v1 resources, hours, time off, availability, holds and appointments through falcon.testing, on real Postgres."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingress.api.openapi import OPERATIONS, document
from tests.support import api_world as api
from tests.support.api_world import PHONE, Sched

jwks = api.jwks
world = api.world
sched = api.sched

ALL_WEEK = [{"weekday": day, "starts": "08:00", "ends": "18:00"} for day in range(7)]


def _at(sched: Sched, hour: int, minute: int = 0) -> str:
    return (sched.tomorrow + timedelta(hours=hour, minutes=minute)).isoformat()


def _book(world: api.World, sched: Sched, hour: int, who: str = "tech_a", **extra: Any) -> falcon.testing.Result:
    body = {"resource_id": sched.resource_a, "service_item_id": sched.item_a, "starts_at": _at(sched, hour)}
    return world.call("post", "/v1/appointments", who=who, json={**body, "customer_phone": PHONE, **extra})


# --- resources, hours, time off ----------------------------------------------------------------------------------


def test_resources_hours_services_and_time_off(world: api.World, sched: Sched) -> None:
    created = world.call(
        "post",
        "/v1/resources",
        who="tech_a",
        json={
            "name": "Alex",
            "timezone": "America/Los_Angeles",
            "buffer_minutes": 15,
            "service_item_ids": [sched.item_a],
            "working_hours": [{"weekday": 0, "starts": "09:00", "ends": "12:00"}],
        },
    )
    assert created.status_code == 201, created.text
    alex = created.json
    assert alex["timezone"] == "America/Los_Angeles"
    assert alex["service_item_ids"] == [sched.item_a]
    assert alex["working_hours"] == [{"weekday": 0, "weekday_name": "monday", "starts": "09:00", "ends": "12:00"}]
    assert [r["name"] for r in world.call("get", "/v1/resources").json["items"]] == ["Alex", "Sam"]

    path = f"/v1/resources/{alex['id']}"
    split = [{"weekday": 1, "starts": "08:00", "ends": "12:00"}, {"weekday": 1, "starts": "13:00", "ends": "17:30"}]
    hours = world.call("put", f"{path}/working-hours", json={"shifts": split})
    assert hours.status_code == 200, hours.text
    assert [(h["starts"], h["ends"]) for h in hours.json["working_hours"]] == [("08:00", "12:00"), ("13:00", "17:30")]
    services = world.call("put", f"{path}/services", json={"service_item_ids": []})
    assert services.json["service_item_ids"] == []  # a generalist now

    off = world.call(
        "post",
        "/v1/time-off",
        json={"resource_id": alex["id"], "first_day": "2031-07-01", "last_day": "2031-07-04", "reason": "holiday"},
    )
    assert off.status_code == 201, off.text
    closed = world.call("post", "/v1/time-off", json={"first_day": "2031-12-25", "last_day": "2031-12-25"})
    assert closed.status_code == 201
    assert closed.json["resource_id"] is None
    detail = world.call("get", path).json
    assert [entry["first_day"] for entry in detail["time_off"]] == ["2031-07-01"]
    listed = world.call("get", "/v1/time-off", params={"resource_id": alex["id"]}).json["items"]
    assert [entry["first_day"] for entry in listed] == ["2031-07-01", "2031-12-25"]
    assert [entry["first_day"] for entry in world.call("get", "/v1/time-off").json["items"]] == [
        "2031-07-01",
        "2031-12-25",
    ]


def test_a_business_day_off_closes_availability(world: api.World, sched: Sched) -> None:
    day = sched.tomorrow.date().isoformat()
    assert world.call("post", "/v1/time-off", json={"first_day": day, "last_day": day}).status_code == 201
    slots = world.call(
        "get",
        "/v1/availability",
        params={"service_item_id": sched.item_a, "from": _at(sched, 0), "to": _at(sched, 24)},
    ).json["slots"]
    assert slots == []
    assert _book(world, sched, 10).json["error"]["reason"] == "outside_hours"


INVALID_SETUP: list[tuple[str, str, dict[str, Any], str]] = [
    ("post", "/v1/resources", {"name": "X", "timezone": "Mars/Olympus"}, "timezone"),
    ("post", "/v1/resources", {"name": "X", "timezone": ""}, "timezone"),
    ("post", "/v1/resources", {"name": "X", "timezone": "UTC", "buffer_minutes": 241}, "buffer_minutes"),
    ("post", "/v1/resources", {"name": "X", "timezone": "UTC", "slot_step_minutes": 0}, "slot_step_minutes"),
    (
        "post",
        "/v1/resources",
        {"name": "X", "timezone": "UTC", "working_hours": [{"weekday": 2, "starts": "17:00", "ends": "09:00"}]},
        "working_hours.0.ends",
    ),
    (
        "post",
        "/v1/resources",
        {"name": "X", "timezone": "UTC", "working_hours": [{"weekday": 7, "starts": "09:00", "ends": "17:00"}]},
        "working_hours.0.weekday",
    ),
    ("post", "/v1/resources", {"name": "X", "timezone": "UTC", "service_item_ids": [str(uuid.uuid4())]}, ""),
    ("put", "{resource}/working-hours", {"shifts": [{"weekday": 1, "starts": "12:00", "ends": "12:00"}]}, ""),
    (
        "put",
        "{resource}/working-hours",
        {
            "shifts": [
                {"weekday": 1, "starts": "08:00", "ends": "12:00"},
                {"weekday": 1, "starts": "11:00", "ends": "13:00"},
            ]
        },
        "shifts",
    ),
    ("put", "{resource}/services", {"service_item_ids": ["not-a-uuid"]}, "service_item_ids.0"),
    ("post", "/v1/time-off", {"first_day": "2031-07-04", "last_day": "2031-07-01"}, "last_day"),
    ("post", "/v1/time-off", {"first_day": "2031-01-01", "last_day": "2039-01-01"}, "last_day"),
]


def test_invalid_setup_is_422_naming_the_field(world: api.World, sched: Sched) -> None:
    resource = f"/v1/resources/{sched.resource_a}"
    for method, path, body, field in INVALID_SETUP:
        result = world.call(method, path.replace("{resource}", resource), json=body)
        assert result.status_code == 422, (path, body, result.text)
        message = result.json["error"]["message"]
        expected = field or ("shifts.0.ends" if "working-hours" in path else "service_item_ids")
        assert message.startswith(f"{expected}:"), (body, message)
    hours = world.call("get", resource).json["working_hours"]
    assert len(hours) == 7  # nothing above changed them


# --- availability -----------------------------------------------------------------------------------------------


def _slots(world: api.World, sched: Sched, **params: str) -> list[dict[str, Any]]:
    query = {"service_item_id": sched.item_a, "from": _at(sched, 0), "limit": "100", **params}
    result = world.call("get", "/v1/availability", who="tech_a", params=query)
    assert result.status_code == 200, result.text
    slots: list[dict[str, Any]] = result.json["slots"]
    return slots


def test_availability_honours_the_window_and_preferences(world: api.World, sched: Sched) -> None:
    day = _slots(world, sched, to=_at(sched, 24))
    starts = [datetime.fromisoformat(slot["starts_at"]) for slot in day]
    assert starts[0] == sched.tomorrow + timedelta(hours=8)
    assert starts[-1] == sched.tomorrow + timedelta(hours=17)  # 60 minutes must fit before 18:00
    assert len(starts) == 19  # every 30 minutes

    def hours_of(slots: list[dict[str, Any]]) -> set[float]:
        return {
            datetime.fromisoformat(s["starts_at"]).hour + datetime.fromisoformat(s["starts_at"]).minute / 60
            for s in slots
        }

    mornings = _slots(world, sched, to=_at(sched, 24), preference="mornings please")
    assert mornings
    assert max(hours_of(mornings)) < 12
    after_three = _slots(world, sched, to=_at(sched, 24), preference="after 3pm")
    assert min(hours_of(after_three)) == 15
    explicit = _slots(world, sched, to=_at(sched, 24), after="10:00", before="11:00")
    assert hours_of(explicit) == {10, 10.5}

    week = {"to": (sched.tomorrow + timedelta(days=7)).isoformat()}
    thursdays = _slots(world, sched, **week, weekday="thursday")
    assert thursdays
    assert {datetime.fromisoformat(s["starts_at"]).weekday() for s in thursdays} == {3}
    spoken = _slots(world, sched, **week, preference="Thursday morning")
    assert {datetime.fromisoformat(s["starts_at"]).weekday() for s in spoken} == {3}
    assert max(hours_of(spoken)) < 12

    # A booked appointment leaves availability.
    assert _book(world, sched, 10).status_code == 201
    after = {s["starts_at"] for s in _slots(world, sched, to=_at(sched, 24))}
    assert _at(sched, 10) not in after
    assert _at(sched, 9, 30) not in after  # would overlap 10:00
    assert _at(sched, 11) in after


def test_bad_availability_queries_are_400_naming_the_parameter(world: api.World, sched: Sched) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"service_item_id": "nope"}, "service_item_id"),
        ({"from": "tomorrow"}, "from"),
        ({"from": _at(sched, 10).replace("+00:00", "")}, "from"),  # no offset
        ({"from": _at(sched, 34), "to": _at(sched, 10)}, "to"),
        ({"from": _at(sched, 10), "to": _at(sched, 10 + 24 * 40)}, "to"),
        ({"from": "9999-12-31T23:00:00Z"}, "from"),
        ({"after": "3pm"}, "after"),
        ({"weekday": "someday"}, "weekday"),
        ({"limit": "0"}, "limit"),
    ]
    missing = world.call("get", "/v1/availability")
    assert missing.status_code == 400
    assert missing.json["error"]["message"].startswith("service_item_id:")
    for params, field in cases:
        result = world.call("get", "/v1/availability", params={"service_item_id": sched.item_a, **params})
        assert result.status_code == 400, (params, result.text)
        assert field in result.json["error"]["message"].split(":")[0] or field in result.json["error"]["message"]


def test_availability_for_another_tenants_service_or_a_past_window(world: api.World, sched: Sched) -> None:
    theirs = world.call("get", "/v1/availability", params={"service_item_id": sched.item_b})
    assert theirs.status_code == 404
    mine_on_their_resource = world.call(
        "get", "/v1/availability", params={"service_item_id": sched.item_a, "resource_id": sched.resource_b}
    )
    assert mine_on_their_resource.status_code == 404
    past = _slots(world, sched, **{"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"})
    assert past == []


# --- booking ----------------------------------------------------------------------------------------------------


def test_book_conflict_reschedule_and_cancel(world: api.World, sched: Sched) -> None:
    booked = _book(world, sched, 10)
    assert booked.status_code == 201, booked.text
    appointment = booked.json
    assert appointment["status"] == "booked"
    assert appointment["price"] == {"amount_cents": 12500, "currency": "USD"}  # the catalog price
    assert appointment["ends_at"] == _at(sched, 11)
    assert world.call("get", f"/v1/appointments/{appointment['id']}").json == appointment

    again = _book(world, sched, 10, who="owner_a", customer_phone="+13105550111")
    assert again.status_code == 409, again.text
    error = again.json["error"]
    assert error["code"] == "slot_unavailable"
    assert error["reason"] == "conflict"
    assert error["alternatives"]
    for alternative in error["alternatives"]:
        start = datetime.fromisoformat(alternative["starts_at"])
        end = datetime.fromisoformat(alternative["ends_at"])
        assert end <= sched.tomorrow + timedelta(hours=10) or start >= sched.tomorrow + timedelta(hours=11)
    # An overlapping (not identical) time is refused too.
    assert _book(world, sched, 10, customer_phone="+13105550112", starts_at=_at(sched, 10, 30)).status_code == 409

    other = _book(world, sched, 14).json
    base = f"/v1/appointments/{appointment['id']}"
    moved = world.call("post", f"{base}/reschedule", who="tech_a", json={"starts_at": _at(sched, 12)})
    assert moved.status_code == 200, moved.text
    assert (moved.json["starts_at"], moved.json["ends_at"]) == (_at(sched, 12), _at(sched, 13))
    onto = world.call("post", f"{base}/reschedule", json={"starts_at": _at(sched, 14, 30)})
    assert onto.status_code == 409
    assert onto.json["error"]["code"] == "slot_unavailable"
    assert onto.json["error"]["alternatives"]
    assert world.call("get", base).json["starts_at"] == _at(sched, 12)  # the refused move changed nothing

    cancelled = world.call("post", f"{base}/cancel", json={"reason": "customer called"})
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert world.call("post", f"{base}/cancel").json["status"] == "cancelled"  # twice changes nothing
    not_booked = world.call("post", f"{base}/reschedule", json={"starts_at": _at(sched, 16)})
    assert not_booked.status_code == 409
    assert not_booked.json["error"]["code"] == "not_booked"
    assert _book(world, sched, 12, customer_phone="+13105550113").status_code == 201  # the freed time

    listed = world.call("get", "/v1/appointments", params={"status": "booked"}).json["items"]
    assert [item["starts_at"] for item in listed] == [_at(sched, 12), _at(sched, 14)]
    assert other["id"] in {item["id"] for item in listed}
    by_phone = world.call("get", "/v1/appointments", params={"customer_phone": PHONE}).json["items"]
    assert {item["id"] for item in by_phone} == {appointment["id"], other["id"]}
    names = api.outbox_names(world, world.a)
    assert names.count("nmc.scheduling.AppointmentBooked") == 3
    assert names.count("nmc.scheduling.AppointmentRescheduled") == 1
    assert names.count("nmc.scheduling.AppointmentCancelled") == 1


def test_hold_blocks_booking_then_confirms(world: api.World, sched: Sched) -> None:
    body = {"resource_id": sched.resource_a, "service_item_id": sched.item_a, "starts_at": _at(sched, 9)}
    held = world.call("post", "/v1/holds", who="tech_a", json={**body, "customer_phone": PHONE})
    assert held.status_code == 201, held.text
    hold = held.json
    expires = datetime.fromisoformat(hold["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    blocked = _book(world, sched, 9, customer_phone="+13105550111")
    assert blocked.status_code == 409
    assert blocked.json["error"]["reason"] == "held"
    confirmed = world.call("post", f"/v1/holds/{hold['id']}/confirm", json={})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json["hold_id"] == hold["id"]
    assert confirmed.json["customer_phone"] == PHONE
    second = world.call("post", "/v1/holds", json={**body, "starts_at": _at(sched, 15)})
    assert second.status_code == 201
    no_phone = world.call("post", f"/v1/holds/{second.json['id']}/confirm")
    assert no_phone.status_code == 422
    assert no_phone.json["error"]["message"].startswith("customer_phone:")
    released = world.call("post", f"/v1/holds/{second.json['id']}/release")
    assert released.json["status"] == "released"
    assert _book(world, sched, 15).status_code == 201  # a released hold blocks nothing


INVALID_BOOKINGS: list[tuple[dict[str, Any], str]] = [
    ({"starts_at": "2027-01-01T10:00:00"}, "starts_at"),  # no offset
    ({"starts_at": "9999-12-31T23:30:00Z"}, "starts_at"),
    ({"starts_at": "0001-01-01T00:00:00Z"}, "starts_at"),
    ({"customer_phone": "555-0100"}, "customer_phone"),
    ({"resource_id": "x"}, "resource_id"),
    ({"price_cents": 1}, "price_cents"),  # the price is the catalog's, never the client's
]


def test_invalid_bookings_are_422_naming_the_field(world: api.World, sched: Sched) -> None:
    for change, field in INVALID_BOOKINGS:
        result = _book(world, sched, 10, **change)
        assert result.status_code == 422, (change, result.text)
        assert result.json["error"]["message"].startswith(f"{field}:")
    assert world.call("get", "/v1/appointments").json["items"] == []


def test_too_soon_and_outside_hours_are_typed_409s(world: api.World, sched: Sched) -> None:
    soon = _book(world, sched, 0, starts_at=(datetime.now(UTC) + timedelta(minutes=5)).isoformat())
    assert soon.status_code == 409
    assert soon.json["error"]["reason"] in ("too_soon", "outside_hours")
    night = _book(world, sched, 20)
    assert night.status_code == 409
    assert night.json["error"]["reason"] == "outside_hours"
    assert night.json["error"]["alternatives"]


def test_twenty_concurrent_bookings_of_one_slot_make_exactly_one_201(world: api.World, sched: Sched) -> None:
    start = threading.Barrier(20)

    def attempt(n: int) -> int:
        start.wait(timeout=30)
        return _book(world, sched, 13, customer_phone=f"+1310555{n:04d}").status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert sorted(statuses) == [201] + [409] * 19
    booked = world.call("get", "/v1/appointments", params={"status": "booked"}).json["items"]
    assert len(booked) == 1


# --- isolation ---------------------------------------------------------------------------------------------------


def test_another_tenants_resources_holds_and_appointments_are_404(world: api.World, sched: Sched) -> None:
    resource, appointment, hold = sched.resource_b, sched.appointment_b, sched.hold_b
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", f"/v1/resources/{resource}", None),
        ("put", f"/v1/resources/{resource}/working-hours", {"shifts": ALL_WEEK}),
        ("put", f"/v1/resources/{resource}/services", {"service_item_ids": []}),
        ("post", "/v1/time-off", {"resource_id": resource, "first_day": "2031-01-01", "last_day": "2031-01-01"}),
        ("get", f"/v1/appointments/{appointment}", None),
        ("post", f"/v1/appointments/{appointment}/cancel", {}),
        ("post", f"/v1/appointments/{appointment}/reschedule", {"starts_at": _at(sched, 15)}),
        ("post", f"/v1/holds/{hold}/confirm", {}),
        ("post", f"/v1/holds/{hold}/release", {}),
        (
            "post",
            "/v1/appointments",
            {
                "resource_id": resource,
                "service_item_id": sched.item_a,
                "starts_at": _at(sched, 15),
                "customer_phone": PHONE,
            },
        ),
        (
            "post",
            "/v1/appointments",
            {
                "resource_id": sched.resource_a,
                "service_item_id": sched.item_b,
                "starts_at": _at(sched, 15),
                "customer_phone": PHONE,
            },
        ),
        (
            "post",
            "/v1/holds",
            {"resource_id": resource, "service_item_id": sched.item_a, "starts_at": _at(sched, 15)},
        ),
        (
            "post",
            f"/v1/appointments/{_book(world, sched, 16).json['id']}/reschedule",
            {"starts_at": _at(sched, 15), "resource_id": resource},
        ),
    ]
    for method, path, body in attempts:
        result = world.call(method, path, json=body)
        assert result.status_code == 404, (method, path, result.text)
        assert result.json["error"]["code"] == "not_found"
    assert [r["id"] for r in world.call("get", "/v1/resources").json["items"]] == [sched.resource_a]
    assert {a["resource_id"] for a in world.call("get", "/v1/appointments").json["items"]} == {sched.resource_a}
    assert world.call("get", "/v1/time-off").json["items"] == []
    # B's rows are untouched: still booked and held, still with their hours.
    theirs = world.call("get", f"/v1/appointments/{appointment}", who="owner_b").json
    assert theirs["status"] == "booked"
    assert len(world.call("get", f"/v1/resources/{resource}", who="tech_b").json["working_hours"]) == 7


def test_strangers_and_anonymous_callers_are_refused(world: api.World, sched: Sched) -> None:
    assert world.call("get", "/v1/resources", who="user_nobody").status_code == 403
    assert world.client.simulate_post("/v1/appointments", json={}).status_code == 401
    assert world.call("post", "/v1/resources", who="owner_a", json={"name": "O", "timezone": "UTC"}).status_code == 201


# --- generated requests over the OpenAPI document ----------------------------------------------------------------

MINE = tuple(
    op
    for op in OPERATIONS
    if op.path.split("/")[2] in ("service-items", "resources", "time-off", "availability", "holds", "appointments")
)


def test_generated_requests_over_the_scheduling_routes_never_5xx(world: api.World, sched: Sched) -> None:
    """Like test_api's fuzzing, but with this module's real ids and plausible values, so requests reach the services."""
    assert len(MINE) >= 20
    idents = [sched.item_a, sched.resource_a, sched.item_b, sched.resource_b, sched.appointment_b, sched.hold_b]
    identifiers = st.sampled_from([*idents, str(uuid.uuid4()), "x"])
    instants = st.sampled_from(
        [_at(sched, h) for h in (8, 10, 13, 17, 20)] + ["2031-01-01T10:00:00", "0001-01-01T00:00:00Z", "garbage"]
    ) | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
    values = st.one_of(
        identifiers,
        instants,
        st.sampled_from([PHONE, "UTC", "Europe/Paris", "mornings", "after 3pm", "thursday", "09:00", "25:00", ""]),
        st.lists(identifiers, max_size=2),
        st.lists(
            st.fixed_dictionaries(
                {"weekday": st.integers(-1, 8), "starts": st.sampled_from(["08:00", "12:00", "x"]), "ends": st.text()}
            ),
            max_size=2,
        ),
        st.fixed_dictionaries({"amount_cents": st.integers(-5, 2**33), "currency": st.sampled_from(["USD", "usd"])}),
        api.json_values,
    )
    statuses: list[int] = []
    documented = document()["paths"]

    @hsettings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(op=st.sampled_from(MINE), ident=identifiers, data=st.data())
    def run(op: Any, ident: str, data: st.DataObject) -> None:
        path = op.path
        for name in op.path_params:
            path = path.replace("{" + name + "}", ident)
        query = {name: data.draw(values.map(str)) for name, _schema in op.query if data.draw(st.booleans())}
        kwargs: dict[str, Any] = {"params": query}
        if op.body is not None:
            body = {name: data.draw(values) for name in op.body.model_fields if data.draw(st.booleans())}
            kwargs["json"] = body
        who = data.draw(st.sampled_from(["owner_a", "tech_a", "tech_b"]))
        result = world.call(op.method, path, who=who, **kwargs)
        statuses.append(result.status_code)
        assert result.status_code < 500, (op.method, path, kwargs, result.text)
        assert str(result.status_code) in documented[op.path][op.method]["responses"], (op.method, path, result.text)
        if result.status_code >= 400:
            assert set(result.json["error"]) >= {"code", "message"}

    run()
    assert any(code < 300 for code in statuses)
    assert any(code >= 400 for code in statuses)
