"""Property-based fuzzing: never a 5xx for bad input, never a write without a signature.

The webhook tests below fuzz the provider routes unsigned and signed; the last section enumerates every route the app
registers (Falcon's router, so a route added later is covered without touching this file) and sends each the shapes
that used to crash one, through a passed gate (token or provider signature) so the body is actually parsed."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import falcon
import falcon.inspect
import falcon.testing
import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from db.settings import Settings
from ingress.api.openapi import DESCRIBING_ROUTES
from ingress.api.resources import Strict
from ingress.resources.calendar import jobber_signature_of
from ingress.verification import FormParams
from tests.support import api_world as api
from tests.support.ingress_site import BASE_URL, Site, make_site
from tests.support.staff_pages import csrf_of
from tests.support.webhook_env import CALLER, ROUTES, TENANT_NUMBER, Env, make_env

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
    if result.status_code >= 300 and result.headers.get("content-type", "").startswith("text/html"):
        # The staff app answers a person: an error is a page saying what went wrong, with a way back.
        assert "<main" in result.text, result.text[:300]
        assert result.text.rstrip().endswith("</html>"), result.text[-300:]
    elif result.status_code >= 300:
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


# --- every route the app registers, through its gate, with the shapes that used to crash one -----------------------

jwks = api.jwks


def _models(base: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for sub in base.__subclasses__():
        found += [sub, *_models(sub)]
    return found


# Every field name of every API body model (so a new model's fields are fuzzed too) and the providers' own.
BODY_FIELDS = sorted(
    {name for model in _models(Strict) for name in model.model_fields}
    | {"id", "type", "created", "data", "object", "webHookEvent", "topic", "accountId", "itemId", "occurredAt"}
    | {"Body", "NumMedia", "MessageSid", "CallSid", "From", "To", "MessageStatus", "ErrorCode"}
)
NASTY = [
    True,
    False,
    None,
    "30",
    30.0,
    0,
    -1,
    2**31,
    2**64,
    10**300,
    1e308,
    "٣",
    "３",
    "²",
    "\ud800",
    "\x00",
    "",
    "x" * 1601,
    [],
    {},
    [1, [2, [3]]],
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "2020-01-01T10:00:00Z",
    str(uuid.uuid4()),
    "+13105550100",
    "evt_1",
    "VISIT_UPDATE",
]
SHAPES: dict[str, bytes] = {
    "empty": b"",
    "deep-array": b"[" * 1000 + b"]" * 1000,
    "deep-object": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "deep-in-field": b'{"name": ' + b"[" * 200 + b"]" * 200 + b"}",
    "lone-surrogate": b'{"name": "\\ud800", "reason": "\\udfff"}',
    "nan": b'{"amount_cents": NaN, "created": Infinity}',
    "huge-exponent": b'{"duration_minutes": 1e999, "created": -1e999}',
    "huge-integer": b'{"duration_minutes": ' + b"9" * 5000 + b"}",
    "bools-as-ints": json.dumps(dict.fromkeys(BODY_FIELDS, True)).encode(),
    "strings-as-ints": json.dumps(dict.fromkeys(BODY_FIELDS, "30")).encode(),
    "non-ascii-digits": json.dumps(dict.fromkeys(BODY_FIELDS, "٣٠")).encode(),
    "not-an-object": b"[1, 2, 3]",
    "not-json": b"{'name': 1,}",
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "form": urlencode({"Body": "x" * 1601, "NumMedia": "٣", "MessageSid": "SM" + "1" * 32}).encode(),
    "oversized": b'{"name": "' + b"x" * (70 * 1024) + b'"}',
}
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "multipart/form-data"]
ACTIONS = ["takeover", "reply", "release", "close", "confirm", "cancel", "reschedule", "done", "x"]
QUERY_NAMES = ["limit", "days", "from", "to", "status", "state", "weekday", "service_item_id", "resource_id", "active"]
QUERY_NAMES += ["text", "preference", "after", "before", "caller", "cursor", "customer_phone"]
QUERY_VALUES = ["٣", "３", "²", "+3", " 3", "3_0", "1" * 40, "-1", "0", "true", "\x00", "2020-01-01T00:00:00Z", ""]
# The gate each family of routes has; a route outside every family fails the test until its gate is taught here.
# The staff app's own sign-in door (locally) and where a signed-out browser lands.
STAFF_OPEN_ROUTES = {"/app/session", "/app/signed-out"}
OPEN_ROUTES = {"/healthz", "/readyz", *DESCRIBING_ROUTES, *STAFF_OPEN_ROUTES}
GATED_PREFIXES = ("/v1/", "/webhooks/twilio/", "/webhooks/stripe", "/webhooks/jobber", "/webhooks/google/", "/app")
# A live stream holds its response open for STAFF_STREAM_SECONDS; it takes no body or query to fuzz, and its gate
# and limits are tested in test_staff_app.
STREAMS = {"/app/events"}


# Falcon's inspection reads every responder's source (inspect.findsource and an ast.parse per route): done once per
# app, not once per generated example (that was most of this module's run time).
# Keyed by id() with the app kept beside it (Falcon's App takes no weak references), so an id is never reused.
_ROUTES: dict[int, tuple[falcon.App, list[tuple[str, str]]]] = {}


def app_routes(app: falcon.App, *, streams: bool = False) -> list[tuple[str, str]]:
    """(method, path template) of every responder the app has, from Falcon's router, not a hand-kept list."""
    if id(app) not in _ROUTES:
        _ROUTES[id(app)] = (
            app,
            [
                (method.method, route.path)
                for route in falcon.inspect.inspect_routes(app)
                for method in route.methods
                if not method.internal
            ],
        )
    return [(method, path) for method, path in _ROUTES[id(app)][1] if streams or path not in STREAMS]


def gated_request(
    site: Site,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    query: dict[str, str],
    extra: dict[str, str] | None = None,
) -> falcon.testing.Result:
    """The request as the route's gate wants it (a valid token or provider signature), so the body is parsed."""
    headers = {"Content-Type": content_type} if content_type else {}
    headers |= extra or {}
    query_string = urlencode(query)
    if path.startswith("/v1/"):
        headers["Authorization"] = f"Bearer {api.token(site.keys, 'owner_a')}"
    elif path.startswith("/app") and path not in STAFF_OPEN_ROUTES:
        # The staff session cookie, and the session's CSRF token the forms carry (as the header, so the body stays
        # exactly what was drawn).
        cookie = f"__session={api.token(site.keys, 'owner_a', sid='sess_owner_a')}"
        headers |= {"Cookie": cookie, "X-CSRF-Token": csrf_of("owner_a")}
    elif path.startswith("/webhooks/twilio/"):
        validator = RequestValidator(site.settings.twilio_auth_token.get_secret_value())
        if content_type == "application/json":
            query_string = urlencode({**query, "bodySHA256": hashlib.sha256(body).hexdigest()})
            params = FormParams()
        else:
            params = FormParams.from_pairs(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        url = f"{BASE_URL}{path}" + (f"?{query_string}" if query_string else "")
        headers["X-Twilio-Signature"] = validator.compute_signature(url, params)
    elif path.startswith("/webhooks/stripe"):
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8", "replace"),
            site.settings.stripe_webhook_secret.get_secret_value(),
            timestamp=int(time.time()),
        )
    elif path.startswith("/webhooks/jobber"):
        headers["X-Jobber-Hmac-SHA256"] = jobber_signature_of(
            site.settings.jobber_webhook_secret.get_secret_value(), body
        )
    elif path.startswith("/webhooks/google/"):
        number = query.get("limit", "1")
        headers |= {"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": "chan-token"}
        headers |= {"X-Goog-Resource-State": "exists", "X-Goog-Message-Number": number}
    return site.client.simulate_request(method, path, body=body, headers=headers, query_string=query_string or None)


def _fill(path: str, site: Site, pick: Any) -> str:
    # A field may carry a converter ({hold_id:uuid}): the value replaces the whole field.
    for field, name in re.findall(r"({(\w+)(?::\w+)?})", path):
        value = pick(name)
        path = path.replace(field, value)
    return path


def _check(result: falcon.testing.Result, what: object) -> None:
    assert result.status_code < 500, (what, result.text[:500])
    if result.status_code >= 400:
        _assert_error_shape(result)


@pytest.fixture
def site(settings: Settings, engine: Engine, sessions: sessionmaker[Session], jwks: api.Keys) -> Site:
    return make_site(settings, engine, sessions, jwks)


def test_every_route_is_gated_or_open(site: Site) -> None:
    routes = app_routes(site.client.app, streams=True)
    assert len(routes) >= 40
    for _method, path in routes:
        assert path in OPEN_ROUTES or path.startswith(GATED_PREFIXES), f"teach gated_request the gate of {path}"


def test_every_route_with_every_bad_shape_is_never_5xx(site: Site) -> None:
    """Each responder x each shape, with real ids of the caller's tenant in the path, through a passed gate."""
    passed_gate: dict[tuple[str, str], set[int]] = {}
    for method, template in app_routes(site.client.app):
        actions = ACTIONS if "{action}" in template else [""]
        for action in actions:

            def own(name: str, action: str = action) -> str:
                return action if name == "action" else str(site.ids.get(name, uuid.uuid4()))

            path = _fill(template, site, own)
            for shape, body in SHAPES.items():
                content_type = "application/x-www-form-urlencoded" if shape == "form" else "application/json"
                result = gated_request(site, method, path, body, content_type, {})
                _check(result, (method, path, shape))
                passed_gate.setdefault((method, template), set()).add(result.status_code)
    # Every gated route let these requests through its gate (so the bodies above were really parsed).
    for (method, template), statuses in passed_gate.items():
        if template.startswith(GATED_PREFIXES):
            assert statuses - {401, 403}, (method, template, statuses)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_generated_requests_over_every_route_never_5xx(site: Site, data: st.DataObject) -> None:
    method, template = data.draw(st.sampled_from(app_routes(site.client.app)))
    method = data.draw(st.sampled_from([method] * 4 + ["GET", "POST", "PUT", "PATCH", "DELETE"]))
    junk = st.sampled_from(["x", "١" * 32, "１" * 32, str(uuid.uuid4()), str(site.other_conversation), "%00"])

    def pick(name: str) -> str:
        if name == "action":
            return data.draw(st.sampled_from(ACTIONS))
        own = str(site.ids.get(name, uuid.uuid4()))
        return data.draw(st.sampled_from([own, own, own]) | junk)

    path = _fill(template, site, pick)
    fields = st.dictionaries(st.sampled_from(BODY_FIELDS), st.sampled_from(NASTY) | JSON, max_size=6)
    document = data.draw(fields | st.fixed_dictionaries({"data": st.fixed_dictionaries({"webHookEvent": fields})}))
    body = data.draw(
        st.sampled_from(list(SHAPES.values())) | st.just(json.dumps(document).encode()) | st.binary(max_size=200)
    )
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), st.sampled_from(QUERY_VALUES), max_size=3))
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    header_values = st.sampled_from(["", "x", "١" * 32, "１" * 32, str(site.tenant), str(uuid.uuid4()), "k" * 300])
    extra = data.draw(st.dictionaries(st.sampled_from(["X-Tenant-Id", "Idempotency-Key"]), header_values))
    result = gated_request(site, method, path, body, content_type, query, extra)
    _check(result, (method, path, body[:200], query, extra))
