"""The webhook routes end to end through falcon.testing against the real Postgres."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
import redis
import stripe
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from db.engine import make_session_factory
from db.metrics import render_metrics
from db.settings import Settings
from ingress.app import IngressDeps, create_app
from ingress.verification import FormParams
from tests.support import webhook_env
from tests.support.webhook_env import CALLER, FORWARD_TO, ROUTES, TENANT_NUMBER, Env, add_tenant

env = webhook_env.env  # the fixture, by name so pytest finds it here


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def counter(kind: str, outcome: str, provider: str = "twilio") -> float:
    value = REGISTRY.get_sample_value("nmc_webhooks_total", {"provider": provider, "kind": kind, "outcome": outcome})
    return value or 0.0


# --- voice ----------------------------------------------------------------------------------------------------


def test_voice_dials_the_tenant_with_its_ring_timeout_and_action(env: Env) -> None:
    sid = call_sid()
    result = env.twilio("/webhooks/twilio/voice", [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER)])
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/xml")
    assert '<Dial action="https://hooks.nmc.test/webhooks/twilio/voice/status"' in result.text
    assert 'timeout="20"' in result.text
    assert f"<Number>{FORWARD_TO}</Number>" in result.text
    assert env.rows("SELECT provider_ref, outcome, tenant_id FROM webhook_events") == [
        (f"{sid}:voice", "accepted", env.tenant_id)
    ]
    assert env.counts() == (1, 0)
    # Twilio retrying gets the same instructions and nothing new is written.
    again = env.twilio("/webhooks/twilio/voice", [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER)])
    assert again.text == result.text
    assert again.headers["X-Webhook-Outcome"] == "duplicate"
    assert env.counts() == (1, 0)


def test_voice_uses_the_tenants_ring_timeout(env: Env) -> None:
    add_tenant(env.engine, "+13105550111", ring_timeout=12)
    result = env.twilio("/webhooks/twilio/voice", [("CallSid", call_sid()), ("From", CALLER), ("To", "3105550111")])
    assert 'timeout="12"' in result.text


def test_unroutable_number_is_200_recorded_and_counted(env: Env) -> None:
    before = counter("voice", "unroutable")
    result = env.twilio("/webhooks/twilio/voice", [("CallSid", call_sid()), ("From", CALLER), ("To", "+13105550999")])
    assert result.status_code == 200
    assert "<Hangup" in result.text
    assert env.rows("SELECT outcome, tenant_id FROM webhook_events") == [("unroutable", None)]
    assert env.counts() == (1, 0)
    assert counter("voice", "unroutable") == before + 1


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_dial_status_not_answered_is_a_missed_call(env: Env, status: str) -> None:
    sid = call_sid()
    correlation = uuid.uuid4()
    params = [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER), ("CallStatus", "in-progress")]
    params.append(("DialCallStatus", status))
    result = env.twilio("/webhooks/twilio/voice/status", params, headers={"X-Request-Id": str(correlation)})
    assert result.status_code == 200
    assert result.headers["X-Request-Id"] == str(correlation)
    assert "<Say>" in result.text
    assert result.text.rstrip().endswith("<Hangup /></Response>")
    (event,) = env.rows("SELECT event_name, tenant_id, correlation_id, payload FROM outbox_events")
    assert event.event_name == "nmc.telephony.CallMissed"
    assert event.tenant_id == env.tenant_id
    assert event.correlation_id == correlation
    assert event.payload["call_sid"] == sid
    assert event.payload["caller"] == CALLER
    assert event.payload["called"] == TENANT_NUMBER
    assert event.payload["dial_status"] == status
    # A status callback saying the same thing later is the same missed call.
    again = env.twilio("/webhooks/twilio/voice/status", [("CallSid", sid), ("CallStatus", "no-answer")])
    assert again.status_code == 200
    assert env.counts() == (1, 1)


def test_dial_completed_is_recorded_as_answered_a_call_answered(env: Env) -> None:
    sid = call_sid()
    params = [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER), ("DialCallStatus", "completed")]
    assert env.twilio("/webhooks/twilio/voice/status", params).status_code == 200
    assert env.rows("SELECT provider_ref, outcome FROM webhook_events") == [(f"{sid}:answered", "accepted")]
    (event,) = env.rows("SELECT event_name, tenant_id, payload FROM outbox_events")
    assert event.event_name == "nmc.telephony.CallAnswered"
    assert event.tenant_id == env.tenant_id
    assert event.payload["direction"] == "inbound"
    assert (event.payload["customer_phone"], event.payload["business_number"]) == (CALLER, TENANT_NUMBER)
    # The parent call's own "completed" status callback is the same verdict, nothing new.
    again = [("CallSid", sid), ("From", CALLER), ("To", TENANT_NUMBER), ("CallStatus", "completed")]
    assert env.twilio("/webhooks/twilio/voice/status", again).status_code == 200
    assert env.counts() == (1, 1)


def test_a_bare_call_status_completed_is_no_person_answering(env: Env) -> None:
    # Every parent call ends "completed" (Twilio answered it to play the TwiML), missed ones too.
    params = [("CallSid", call_sid()), ("From", CALLER), ("To", TENANT_NUMBER), ("CallStatus", "completed")]
    assert env.twilio("/webhooks/twilio/voice/status", params).status_code == 200
    assert env.counts() == (1, 0)


@pytest.mark.parametrize("status", ["in-progress", "completed"])
def test_an_answered_call_from_the_business_number_is_an_outbound_call_answered(env: Env, status: str) -> None:
    sid = call_sid()
    params = [("CallSid", sid), ("From", TENANT_NUMBER), ("To", CALLER), ("Direction", "outbound-api")]
    result = env.twilio("/webhooks/twilio/voice/status", [*params, ("CallStatus", status)])
    assert result.status_code == 200
    assert result.headers["X-Webhook-Outcome"] == "accepted"
    (event,) = env.rows("SELECT event_name, tenant_id, payload FROM outbox_events")
    assert event.event_name == "nmc.telephony.CallAnswered"
    assert event.tenant_id == env.tenant_id  # routed by From: the call left from the tenant's number
    assert event.payload["direction"] == "outbound"
    assert (event.payload["customer_phone"], event.payload["business_number"]) == (CALLER, TENANT_NUMBER)
    # Its later status callbacks are the same answer.
    again = env.twilio("/webhooks/twilio/voice/status", [*params, ("CallStatus", "completed")])
    assert again.headers["X-Webhook-Outcome"] == "duplicate"
    assert env.counts() == (1, 1)


@pytest.mark.parametrize("status", ["ringing", "no-answer", "busy"])
def test_an_unanswered_call_from_the_business_number_is_never_a_missed_call(env: Env, status: str) -> None:
    params = [("CallSid", call_sid()), ("From", TENANT_NUMBER), ("To", CALLER), ("Direction", "outbound-api")]
    assert env.twilio("/webhooks/twilio/voice/status", [*params, ("CallStatus", status)]).status_code == 200
    assert env.rows("SELECT outcome FROM webhook_events") == [("ignored",)]
    assert env.counts() == (1, 0)


def test_missed_call_from_an_anonymous_caller_is_kept_but_not_an_event(env: Env) -> None:
    params = [("CallSid", call_sid()), ("From", "anonymous"), ("To", TENANT_NUMBER), ("DialCallStatus", "busy")]
    assert env.twilio("/webhooks/twilio/voice/status", params).status_code == 200
    assert env.rows("SELECT outcome FROM webhook_events") == [("ignored",)]
    assert env.counts() == (1, 0)


# --- SMS ------------------------------------------------------------------------------------------------------


def test_inbound_sms_with_media_is_message_received(env: Env) -> None:
    sid = message_sid()
    params = [
        ("MessageSid", sid),
        ("From", CALLER),
        ("To", TENANT_NUMBER),
        ("Body", "Need a plumber tomorrow"),
        ("NumMedia", "2"),
        ("MediaUrl0", "https://media.example/0"),
        ("MediaUrl1", "https://media.example/1"),
    ]
    result = env.twilio("/webhooks/twilio/sms", params)
    assert result.status_code == 200
    assert result.text.endswith("<Response />")
    (event,) = env.rows("SELECT event_name, tenant_id, payload FROM outbox_events")
    assert event.event_name == "nmc.conversations.MessageReceived"
    assert event.tenant_id == env.tenant_id
    assert event.payload["body"] == "Need a plumber tomorrow"
    assert event.payload["num_media"] == 2
    assert event.payload["media_urls"] == ["https://media.example/0", "https://media.example/1"]
    assert event.payload["message_sid"] == sid
    assert env.twilio("/webhooks/twilio/sms", params).headers["X-Webhook-Outcome"] == "duplicate"
    assert env.counts() == (1, 1)


def test_sms_status_dedupes_on_sid_and_status_not_sid_alone(env: Env) -> None:
    sid = message_sid()
    for status in ("queued", "sent", "sent", "undelivered"):
        params = [("MessageSid", sid), ("MessageStatus", status), ("From", TENANT_NUMBER), ("To", CALLER)]
        if status == "undelivered":
            params.append(("ErrorCode", "30003"))
        assert env.twilio("/webhooks/twilio/sms/status", params).status_code == 200
    events = env.rows("SELECT payload FROM outbox_events ORDER BY seq")
    assert [(e.payload["status"], e.payload["error_code"]) for e in events] == [
        ("queued", None),
        ("sent", None),
        ("undelivered", 30003),
    ]
    assert env.counts() == (3, 3)


def test_a_status_report_joins_the_chain_its_callback_url_names_and_a_garbled_one_is_ignored(env: Env) -> None:
    chain = uuid.uuid4()
    path = "/webhooks/twilio/sms/status"
    for query, sid in ((f"correlation={chain}", message_sid()), ("correlation=not-a-uuid", message_sid())):
        params = [("MessageSid", sid), ("MessageStatus", "sent"), ("From", TENANT_NUMBER), ("To", CALLER)]
        answer = env.client.simulate_post(
            path,
            query_string=query,
            body=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": env.sign(path, params, query=query),
            },
        )
        assert answer.status_code == 200, answer.text
    named, garbled = env.rows("SELECT correlation_id FROM outbox_events ORDER BY seq")
    assert named.correlation_id == chain
    assert garbled.correlation_id not in (chain, None)
    # The chain is part of what Twilio signed: the same report with another chain put in is refused.
    params = [("MessageSid", message_sid()), ("MessageStatus", "sent"), ("From", TENANT_NUMBER), ("To", CALLER)]
    forged = env.client.simulate_post(
        path,
        query_string=f"correlation={uuid.uuid4()}",
        body=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": env.sign(path, params, query=f"correlation={chain}"),
        },
    )
    assert forged.status_code == 403


def test_replayed_twilio_request_hours_later_is_a_no_op(env: Env) -> None:
    params = [("MessageSid", message_sid()), ("From", CALLER), ("To", TENANT_NUMBER), ("Body", "hi")]
    signature = env.sign("/webhooks/twilio/sms", params)
    assert env.twilio("/webhooks/twilio/sms", params, signature=signature).status_code == 200
    with env.engine.begin() as conn:
        conn.execute(text("UPDATE webhook_events SET received_at = received_at - interval '6 hours'"))
    replay = env.twilio("/webhooks/twilio/sms", params, signature=signature)
    assert replay.status_code == 200
    assert replay.headers["X-Webhook-Outcome"] == "duplicate"
    assert env.counts() == (1, 1)


# --- Stripe ---------------------------------------------------------------------------------------------------


def stripe_event(event_id: str = "evt_1TestEvent") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": "customer.subscription.updated",
        "created": 1_700_000_000,
        "livemode": False,
        "data": {"object": {"id": "sub_1", "customer": "cus_1", "status": "active"}},
    }


def test_stripe_event_is_recorded_once(env: Env) -> None:
    correlation = uuid.uuid4()
    body = json.dumps(stripe_event())
    header = stripe.WebhookSignature.generate_signature_header(
        body, env.settings.stripe_webhook_secret.get_secret_value()
    )
    headers = {"Stripe-Signature": header, "Content-Type": "application/json", "X-Correlation-Id": str(correlation)}
    result = env.client.simulate_post("/webhooks/stripe", body=body, headers=headers)
    assert result.status_code == 200
    assert result.json == {"received": True, "outcome": "accepted"}
    (event,) = env.rows("SELECT event_name, tenant_id, correlation_id, payload FROM outbox_events")
    assert event.event_name == "nmc.billing.StripeEventReceived"
    assert event.tenant_id is None
    assert event.correlation_id == correlation
    assert event.payload["data_object"]["customer"] == "cus_1"
    assert env.stripe(stripe_event()).json["outcome"] == "duplicate"
    assert env.counts() == (1, 1)


@pytest.mark.parametrize("offset", [-301, 301])
def test_stripe_outside_tolerance_is_refused_and_writes_nothing(env: Env, offset: int) -> None:
    result = env.stripe(stripe_event(), at=time.time() + offset)
    assert result.status_code == 403
    assert result.json["error"]["code"] == "forbidden"
    assert env.counts() == (0, 0)


def test_stripe_signed_but_malformed_names_the_field(env: Env) -> None:
    document = stripe_event()
    del document["data"]
    result = env.stripe(document)
    assert result.status_code == 400
    assert result.json == {"error": {"code": "malformed", "message": "data.object is missing or not an object"}}
    assert env.counts() == (0, 0)


# --- refusals -------------------------------------------------------------------------------------------------


def test_forged_twilio_request_is_403_writes_nothing_and_is_counted(env: Env) -> None:
    before = counter("sms", "forged")
    params = [("MessageSid", message_sid()), ("From", CALLER), ("To", TENANT_NUMBER), ("Body", "hi")]
    result = env.twilio("/webhooks/twilio/sms", params, signature="bm90IGEgc2lnbmF0dXJl")
    assert result.status_code == 403
    assert result.json["error"]["code"] == "forbidden"
    missing = env.client.simulate_post("/webhooks/twilio/sms", body=urlencode(params))
    assert missing.status_code == 403
    assert "X-Twilio-Signature" in missing.json["error"]["message"]
    assert env.counts() == (0, 0)
    assert counter("sms", "forged") == before + 2


def test_malformed_twilio_request_is_400_naming_the_problem(env: Env) -> None:
    result = env.twilio("/webhooks/twilio/sms", [("From", CALLER), ("To", TENANT_NUMBER)])
    assert result.status_code == 400
    assert result.json == {"error": {"code": "malformed", "message": "missing parameter MessageSid"}}
    bad_media = [("MessageSid", message_sid()), ("To", TENANT_NUMBER), ("NumMedia", "1")]
    assert "MediaUrl" in env.twilio("/webhooks/twilio/sms", bad_media).json["error"]["message"]
    assert env.counts() == (0, 0)


def test_wrong_method_is_405_with_the_error_shape(env: Env) -> None:
    for path in ROUTES:
        result = env.client.simulate_get(path)
        assert result.status_code == 405, path
        assert result.json["error"]["code"] == "method_not_allowed"


def test_body_over_the_limit_is_413(env: Env) -> None:
    body = "Body=" + "x" * (env.settings.max_body_bytes + 1)
    result = env.client.simulate_post("/webhooks/twilio/sms", body=body)
    assert result.status_code == 413
    assert result.json["error"]["code"] == "payload_too_large"


def test_correlation_id_is_minted_when_absent_or_invalid(env: Env) -> None:
    result = env.client.simulate_get("/healthz", headers={"X-Request-Id": "not-a-uuid"})
    minted = uuid.UUID(result.headers["X-Request-Id"])
    assert result.headers["X-Correlation-Id"] == str(minted)


def test_database_unreachable_is_503_so_the_provider_retries(settings: Settings) -> None:
    dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 1})
    deps = IngressDeps(engine=dead, sessions=make_session_factory(dead), redis=redis.Redis.from_url(settings.redis_url))
    client = falcon.testing.TestClient(create_app(settings, deps))
    params = [("MessageSid", message_sid()), ("From", CALLER), ("To", TENANT_NUMBER)]
    url = settings.public_base_url + "/webhooks/twilio/sms"
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(
        url, FormParams.from_pairs(params)
    )
    result = client.simulate_post(
        "/webhooks/twilio/sms", body=urlencode(params), headers={"X-Twilio-Signature": signature}
    )
    assert result.status_code == 503
    assert result.json["error"]["code"] == "unavailable"
    assert result.headers["Retry-After"]


def test_failure_after_the_row_rolls_everything_back(env: Env) -> None:
    # The outbox insert fails inside Postgres after the webhook row was written (as a lost connection would, with
    # SQLSTATE class 57): neither row may survive, and the provider's retry must then be accepted as new.
    with env.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'connection lost' USING ERRCODE = 'admin_shutdown'; END $$;"
                " CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox_events"
                " FOR EACH ROW EXECUTE FUNCTION fail_outbox()"
            )
        )
    params = [("MessageSid", message_sid()), ("From", CALLER), ("To", TENANT_NUMBER), ("Body", "x")]
    result = env.twilio("/webhooks/twilio/sms", params)
    assert result.status_code == 503
    assert result.json["error"]["code"] == "unavailable"
    assert env.counts() == (0, 0)  # the webhook row did not survive without its event
    with env.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER fail_outbox ON outbox_events"))
    assert env.twilio("/webhooks/twilio/sms", params).headers["X-Webhook-Outcome"] == "accepted"
    assert env.counts() == (1, 1)


def test_same_webhook_50_times_concurrently_is_exactly_one_event(env: Env) -> None:
    params = [("MessageSid", message_sid()), ("From", CALLER), ("To", TENANT_NUMBER), ("Body", "once")]
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait(timeout=10)
        result = env.twilio("/webhooks/twilio/sms", params)
        with lock:
            outcomes.append(f"{result.status_code}:{result.headers.get('X-Webhook-Outcome')}")

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(set(outcomes)) == ["200:accepted", "200:duplicate"]
    assert outcomes.count("200:accepted") == 1
    assert env.counts() == (1, 1)


def test_metrics_are_recorded_but_not_served_on_the_public_port(env: Env) -> None:
    env.twilio("/webhooks/twilio/sms", [("From", CALLER)], signature="forged")
    assert env.client.simulate_get("/metrics").status_code == 404  # INGRESS_METRICS_BIND serves them
    body, _content_type = render_metrics()
    assert b"nmc_webhooks_total" in body
    assert b"nmc_ingress_request_seconds_bucket" in body
