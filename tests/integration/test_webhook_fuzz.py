"""Property-based fuzzing of every webhook route: never a 5xx for bad input, never a write without a signature."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from tests.integration.test_webhooks import CALLER, ROUTES, TENANT_NUMBER, Env, make_env

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
TWILIO_ROUTES = [route for route in ROUTES if "twilio" in route]
KEYS = [
    "CallSid",
    "MessageSid",
    "SmsSid",
    "From",
    "To",
    "Called",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaUrl1",
    "DialCallStatus",
    "CallStatus",
    "MessageStatus",
    "ErrorCode",
]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [CALLER, TENANT_NUMBER, "anonymous", "CA" + "1" * 32, "SM" + "2" * 32, "no-answer", "completed", "busy"]
    ),
    st.sampled_from(["delivered", "failed", "queued", "0", "1", "2", "99", "-1", "30003", "\x00", "１"]),
)
PARAMS = st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), VALUES), max_size=12)


@pytest.fixture
def env(settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> Env:
    return make_env(settings, engine, sessions)


def _assert_error_shape(result: Any) -> None:
    if result.status_code >= 300:
        error = result.json["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"]),
    body=st.one_of(st.binary(max_size=300), PARAMS.map(lambda pairs: urlencode(pairs).encode())),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data", ""]
    ),
    signature=st.one_of(st.none(), st.text(max_size=60).filter(lambda s: s.isprintable() and s.isascii())),
    query=st.one_of(st.just(""), st.text(max_size=30).map(lambda s: urlencode({"bodySHA256": s}))),
)
def test_unsigned_input_never_5xx_and_never_written(
    env: Env, route: str, method: str, body: bytes, content_type: str, signature: str | None, query: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if signature is not None:
        headers["X-Twilio-Signature" if "twilio" in route else "Stripe-Signature"] = signature
    result = env.client.simulate_request(method, route, body=body, headers=headers, query_string=query or None)
    assert result.status_code < 500, result.text
    assert result.status_code != 200
    _assert_error_shape(result)
    assert env.counts() == (0, 0)


@FUZZ
@given(route=st.sampled_from(TWILIO_ROUTES), params=PARAMS)
def test_signed_twilio_garbage_is_200_or_400_never_5xx(env: Env, route: str, params: list[tuple[str, str]]) -> None:
    before = env.counts()
    result = env.twilio(route, params)
    assert result.status_code in (200, 400), result.text
    _assert_error_shape(result)
    if result.status_code == 400:
        assert env.counts() == before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
STRIPE_DOCS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=20), st.just("evt_fuzz"), st.integers()),
        "type": st.one_of(st.text(max_size=20), st.just("invoice.paid")),
        "created": st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
        "livemode": JSON,
        "data": st.one_of(JSON, st.fixed_dictionaries({"object": JSON})),
    },
)


@FUZZ
@given(document=STRIPE_DOCS)
def test_signed_stripe_garbage_is_200_or_400_never_5xx(env: Env, document: dict[str, Any]) -> None:
    before = env.counts()
    result = env.stripe(document, at=time.time())
    assert result.status_code in (200, 400), result.text
    _assert_error_shape(result)
    if result.status_code == 400:
        assert env.counts() == before


def test_stripe_signed_non_object_json_is_400(env: Env) -> None:
    body = json.dumps([1, 2])
    header = stripe.WebhookSignature.generate_signature_header(
        body, env.settings.stripe_webhook_secret.get_secret_value()
    )
    result = env.client.simulate_post("/webhooks/stripe", body=body, headers={"Stripe-Signature": header})
    assert result.status_code == 400
    assert env.counts() == (0, 0)
