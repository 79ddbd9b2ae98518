"""Bad input is a 4xx, never a 5xx: the shapes that used to crash a route or slip past it, one test each.

Every request here carries what the route needs to get past its gate (a valid token, a valid provider
signature), so the body is actually parsed. The all-routes fuzz lives in test_webhook_fuzz.py.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon.testing
import jwt
import pytest
from sqlalchemy import Engine, text

from tests.support import api_world as api
from tests.support import ingress_site
from tests.support.ingress_site import Site

jwks = api.jwks
world = api.world
sched = api.sched

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
SURROGATE = b'{"data": {"webHookEvent": {"topic": "VISIT_UPDATE", "accountId": "acct-1", "itemId": "\\ud800",'
SURROGATE += b' "occurredAt": "2030-01-07T12:00:00Z"}}}'
site = ingress_site.site  # the fixture, by name so pytest finds it here


def _is_4xx(result: falcon.testing.Result, status: int = 400) -> dict[str, Any]:
    assert result.status_code == status, result.text
    error: dict[str, Any] = result.json["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    return error


# --- one JSON parser: depth, lone surrogates, non-finite numbers ---------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_400_on_every_json_route(site: Site, body: bytes) -> None:
    for path in ("/v1/service-items", "/v1/holds", "/v1/compliance/brand", f"/v1/conversations/{uuid.uuid4()}/close"):
        assert "nested" in _is_4xx(site.api("POST", path, body))["message"], path
    for path in ("/v1/service-items/" + str(uuid.uuid4()),):
        assert "nested" in _is_4xx(site.api("PATCH", path, body))["message"]
    assert "nested" in _is_4xx(site.twilio_json("/webhooks/twilio/sms", body))["message"]
    assert "nested" in _is_4xx(site.stripe(body))["message"]
    assert "nested" in _is_4xx(site.jobber(body))["message"]


def test_moderate_nesting_is_still_parsed(site: Site) -> None:
    nested = b'{"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": ' + b'{"a":' * 20
    nested += b"1" + b"}" * 20 + b"}}"
    assert site.stripe(nested).status_code == 200


def test_a_lone_surrogate_is_400_not_500(site: Site) -> None:
    assert "surrogate" in _is_4xx(site.jobber(SURROGATE))["message"]
    stripe_body = b'{"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {"x": "\\udfff"}}}'
    assert "surrogate" in _is_4xx(site.stripe(stripe_body))["message"]
    assert "surrogate" in _is_4xx(site.twilio_json("/webhooks/twilio/sms", b'{"Body": "\\ud83d"}'))["message"]
    brand = site.api("POST", "/v1/compliance/brand", b'{"legal_name": "Acme \\ud800"}')
    assert "surrogate" in _is_4xx(brand)["message"]


def test_non_finite_numbers_are_400(site: Site) -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = b'{"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {"x": ' + literal + b"}}}"
        _is_4xx(site.stripe(body))


# --- headers and tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "١٢", "１", "-1", "1" * 40])
def test_google_message_number_must_be_ascii_digits(site: Site, number: str) -> None:
    _is_4xx(site.google(number))
    assert site.google("7").status_code == 200


def _claims_token(site: Site, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "owner_a", "iss": api.ISSUER, "azp": api.PARTY, "iat": now, "nbf": now, "exp": now + 60}
    return jwt.encode({**payload, **claims}, site.keys.private, algorithm="RS256", headers={"kid": "k1"})


@pytest.mark.parametrize(
    "claims",
    [
        {"azp": [api.PARTY]},
        {"azp": {"p": api.PARTY}},
        {"exp": str(int(time.time()) + 600)},
        {"exp": True},
        {"exp": 10**400},
        {"iat": "now"},
        {"nbf": str(int(time.time()))},
        {"sub": ""},
        {"sid": ["sess_1"]},
    ],
    ids=[
        "azp-list",
        "azp-object",
        "exp-string",
        "exp-bool",
        "exp-huge",
        "iat-string",
        "nbf-string",
        "sub-empty",
        "sid-list",
    ],
)
def test_claims_of_the_wrong_type_are_401(site: Site, claims: dict[str, Any]) -> None:
    result = site.client.simulate_get("/v1/me", headers={"Authorization": f"Bearer {_claims_token(site, **claims)}"})
    _is_4xx(result, 401)


def test_a_numeric_exp_and_iat_with_fractions_are_accepted(site: Site) -> None:
    now = time.time()
    good = _claims_token(site, iat=now - 1.5, exp=now + 60.25)
    assert site.client.simulate_get("/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200


# --- strict integers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", ["true", '"30"', "30.0", "1e1", "false"])
def test_integers_in_bodies_are_strict(site: Site, duration: str) -> None:
    body = b'{"name": "Leak", "duration_minutes": ' + duration.encode() + b', "price": {"amount_cents": 100}}'
    error = _is_4xx(site.api("POST", "/v1/service-items", body), 422)
    assert error["message"].startswith("duration_minutes:")
    cents = b'{"name": "Leak", "duration_minutes": 30, "price": {"amount_cents": "100"}}'
    assert _is_4xx(site.api("POST", "/v1/service-items", cents), 422)["message"].startswith("price.amount_cents:")
    good = b'{"name": "Leak", "duration_minutes": 30, "price": {"amount_cents": 100}}'
    assert site.api("POST", "/v1/service-items", good).status_code == 201


@pytest.mark.parametrize("value", ["٣", "３", "²", "+3", " 3", "3_0", "1" * 30])
def test_integer_query_parameters_are_ascii_digits(site: Site, value: str) -> None:
    for path, name in (
        ("/v1/conversations", "limit"),
        ("/v1/reports", "days"),
        ("/v1/service-items/match", "limit"),
        ("/v1/appointments", "limit"),
    ):
        error = _is_4xx(site.api("GET", path, params={name: value}))
        assert name in error["message"], (path, error)
    assert site.api("GET", "/v1/conversations", params={"limit": "3"}).status_code == 200


@pytest.mark.parametrize("weekday", ["²", "٣", "３"])
def test_weekday_digits_are_ascii(site: Site, weekday: str) -> None:
    result = site.api("GET", "/v1/availability", params={"service_item_id": str(site.item), "weekday": weekday})
    assert "weekday" in _is_4xx(result)["message"]


def test_non_ascii_uuids_are_not_found(site: Site) -> None:
    fullwidth = "１" * 32
    assert site.api("GET", f"/v1/conversations/{fullwidth}").status_code == 404
    header = {"Authorization": f"Bearer {api.token(site.keys, 'owner_a')}", "X-Tenant-Id": fullwidth}
    _is_4xx(site.client.simulate_get("/v1/me", headers=header))


# --- holds and appointments -------------------------------------------------------------------------------------


def _slot_body(sched: api.Sched, **extra: Any) -> dict[str, Any]:
    at = sched.tomorrow + timedelta(hours=10)
    return {"resource_id": sched.resource_a, "service_item_id": sched.item_a, "starts_at": at.isoformat(), **extra}


@pytest.mark.parametrize("route", ["/v1/holds", "/v1/appointments"])
@pytest.mark.parametrize("ago", [timedelta(minutes=5), timedelta(days=1), timedelta(days=700), timedelta(days=3000)])
def test_a_start_in_the_past_is_422_naming_it(world: api.World, sched: api.Sched, route: str, ago: timedelta) -> None:
    body = _slot_body(sched, starts_at=(datetime.now(UTC) - ago).isoformat(), customer_phone=api.PHONE)
    result = world.call("post", route, who="owner_a", json=body)
    error = _is_4xx(result, 422)
    assert error["message"] == "starts_at: must be in the future", error


def test_a_reschedule_into_the_past_is_422(world: api.World, sched: api.Sched) -> None:
    booked = world.call("post", "/v1/appointments", json=_slot_body(sched, customer_phone=api.PHONE))
    assert booked.status_code == 201, booked.text
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    moved = world.call("post", f"/v1/appointments/{booked.json['id']}/reschedule", json={"starts_at": past})
    assert _is_4xx(moved, 422)["message"] == "starts_at: must be in the future"


@pytest.mark.parametrize("route", ["/v1/holds", "/v1/appointments"])
def test_conversation_id_must_be_the_tenants_own(world: api.World, sched: api.Sched, route: str) -> None:
    for foreign in (world.conv_b, uuid.uuid4()):
        body = _slot_body(sched, customer_phone=api.PHONE, conversation_id=str(foreign))
        error = _is_4xx(world.call("post", route, json=body), 404)
        assert error["message"] == f"conversation {foreign} not found"
    own = world.call("post", route, json=_slot_body(sched, customer_phone=api.PHONE, conversation_id=str(world.conv_a)))
    assert own.status_code == 201, own.text
    assert own.json["conversation_id"] == str(world.conv_a)


# --- inbound SMS bodies ------------------------------------------------------------------------------------------


def _sms(body: str) -> list[tuple[str, str]]:
    return [("MessageSid", "SM" + uuid.uuid4().hex), ("From", "+13105551212"), ("To", "+13105550001"), ("Body", body)]


def test_inbound_sms_body_is_stored_up_to_1600_characters(site: Site, engine: Engine) -> None:
    longest = "é" * 1600
    assert site.twilio_form("/webhooks/twilio/sms", _sms(longest)).status_code == 200
    error = _is_4xx(site.twilio_form("/webhooks/twilio/sms", _sms(longest + "x")))
    assert "1600" in error["message"]
    with engine.connect() as conn:
        bodies = [row[0] for row in conn.execute(text("SELECT payload ->> 'Body' FROM webhook_events"))]
    assert bodies == [longest]
