"""The sandbox over real HTTP: Twilio wire format, signed callbacks, faults, the simulated world, Clerk, Stripe."""

from __future__ import annotations

import base64
import re
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import jwt
import pytest
import stripe
from twilio.request_validator import RequestValidator

from ops.sandbox import build_sandbox, create_sandbox_app
from tests.support.sandbox_world import (  # noqa: F401
    FakeIngress,
    Received,
    ServedApp,
    World,
    free_port,
    sandbox_key_path,
    sandbox_settings,
    world,
)

TENANT = "+13105550100"
CALLER = "+13105550199"
CALLBACK = "/webhooks/twilio/sms/status"


def _auth(world: World, token: str | None = None) -> dict[str, str]:  # noqa: F811
    pair = f"{world.settings.twilio_account_sid}:{token or world.settings.twilio_auth_token.get_secret_value()}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _messages_url(world: World) -> str:  # noqa: F811
    return f"{world.url}/2010-04-01/Accounts/{world.settings.twilio_account_sid}/Messages.json"


def _create(world: World, **form: str) -> httpx.Response:  # noqa: F811
    document = {"To": CALLER, "From": TENANT, "Body": "hi", "StatusCallback": world.ingress.url(CALLBACK), **form}
    return world.http.post(_messages_url(world), data=document, headers=_auth(world))


def _verify(world: World, received: Received) -> bool:  # noqa: F811
    validator = RequestValidator(world.settings.twilio_auth_token.get_secret_value())
    return bool(
        validator.validate(world.ingress.url(received.path), received.form, received.headers["X-Twilio-Signature"])
    )


def _statuses(world: World, sid: str, count: int) -> list[str]:  # noqa: F811
    done = world.ingress.wait_for(lambda got: len([r for r in got if r.form.get("MessageSid") == sid]) >= count)
    return [r.form["MessageStatus"] for r in done if r.form.get("MessageSid") == sid]


def test_create_answers_twilios_message_resource(world: World) -> None:  # noqa: F811
    answer = _create(world, Body="Sorry we missed your call")
    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["account_sid"] == world.settings.twilio_account_sid
    assert (body["to"], body["from"], body["body"]) == (CALLER, TENANT, "Sorry we missed your call")
    assert (body["status"], body["direction"], body["num_segments"], body["num_media"]) == (
        "queued",
        "outbound-api",
        "1",
        "0",
    )
    assert (body["error_code"], body["error_message"], body["date_sent"], body["price"]) == (None, None, None, None)
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None
    assert body["uri"] == f"/2010-04-01/Accounts/{world.settings.twilio_account_sid}/Messages/{body['sid']}.json"
    # UCS-2 (an emoji) halves the segment size: 71 code-unit pairs need two 67-unit parts.
    assert _create(world, Body="🙂" * 36).json()["num_segments"] == "2"
    assert _create(world, Body="x" * 161).json()["num_segments"] == "2"


def test_twilio_error_shapes(world: World) -> None:  # noqa: F811
    unauthorised = world.http.post(_messages_url(world), data={"To": CALLER, "From": TENANT, "Body": "x"})
    assert unauthorised.status_code == 401
    assert unauthorised.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    wrong = world.http.post(_messages_url(world), data={"To": CALLER}, headers=_auth(world, "nope"))
    assert wrong.json()["code"] == 20003
    assert _create(world, To="+1").json() == {
        "code": 21211,
        "message": "Invalid 'To' Phone Number: +1",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    assert _create(world, Body="").json()["code"] == 21602
    missing = world.http.get(_messages_url(world).replace(".json", "/SM" + "0" * 32 + ".json"), headers=_auth(world))
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)


def test_status_callbacks_arrive_signed_in_order_and_the_store_advances(world: World) -> None:  # noqa: F811
    sid = _create(world).json()["sid"]

    assert _statuses(world, sid, 2) == ["sent", "delivered"]
    for received in world.ingress.at(CALLBACK):
        assert _verify(world, received)
        assert received.form["AccountSid"] == world.settings.twilio_account_sid
        assert (received.form["From"], received.form["To"], received.form["ApiVersion"]) == (
            TENANT,
            CALLER,
            "2010-04-01",
        )
        assert "ErrorCode" not in received.form
    first = world.ingress.at(CALLBACK)[0]
    tampered = {**first.form, "MessageStatus": "failed"}
    assert not RequestValidator(world.settings.twilio_auth_token.get_secret_value()).validate(
        world.ingress.url(CALLBACK), tampered, first.headers["X-Twilio-Signature"]
    )

    record = world.http.get(world.url + "/sandbox/messages", params={"to": CALLER}).json()["messages"][-1]
    assert record["sid"] == sid
    assert [step["status"] for step in record["status_history"]] == ["queued", "sent", "delivered"]
    fetched = world.http.get(_messages_url(world).replace(".json", f"/{sid}.json"), headers=_auth(world)).json()
    assert fetched["status"] == "delivered"
    assert fetched["date_sent"] is not None


def test_duplicate_and_reorder_faults(world: World) -> None:  # noqa: F811
    world.fault({"callbacks": "duplicate"})
    sid = _create(world).json()["sid"]
    assert _statuses(world, sid, 4) == ["sent", "sent", "delivered", "delivered"]

    world.fault({"callbacks": "reorder"})
    sid = _create(world).json()["sid"]
    assert _statuses(world, sid, 2) == ["delivered", "sent"]
    assert all(_verify(world, r) for r in world.ingress.at(CALLBACK))
    # The provider's own state moved forward regardless of the callback order.
    fetched = world.http.get(_messages_url(world).replace(".json", f"/{sid}.json"), headers=_auth(world)).json()
    assert fetched["status"] == "delivered"


def test_dropped_callbacks_leave_the_provider_state_to_poll(world: World) -> None:  # noqa: F811
    world.fault({"callbacks": "drop"})
    sid = _create(world).json()["sid"]
    url = _messages_url(world).replace(".json", f"/{sid}.json")
    status = None
    for _ in range(300):
        status = world.http.get(url, headers=_auth(world)).json()["status"]
        if status == "delivered":
            break
        time.sleep(0.01)
    assert status == "delivered"
    assert world.ingress.at(CALLBACK) == []
    assert world.http.get(world.url + "/sandbox/faults").json()["callbacks"] == "drop"
    assert world.http.delete(world.url + "/sandbox/faults").json()["callbacks"] == "normal"


def test_final_status_faults_carry_error_codes(world: World) -> None:  # noqa: F811
    world.fault({"final_status": "undelivered", "error_code": 30003, "count": 1})
    failing = _create(world).json()["sid"]
    assert _statuses(world, failing, 2) == ["sent", "undelivered"]
    last = [r for r in world.ingress.at(CALLBACK) if r.form["MessageSid"] == failing][-1]
    assert last.form["ErrorCode"] == "30003"
    fetched = world.http.get(_messages_url(world).replace(".json", f"/{failing}.json"), headers=_auth(world)).json()
    assert (fetched["status"], fetched["error_code"]) == ("undelivered", 30003)

    world.fault({"final_status": "failed", "error_code": 30007})
    assert _statuses(world, _create(world).json()["sid"], 1) == ["failed"]
    # count is spent: the next message is delivered normally.
    assert _statuses(world, _create(world).json()["sid"], 2) == ["sent", "delivered"]


def test_bad_fault_documents_are_rejected(world: World) -> None:  # noqa: F811
    assert world.post("/sandbox/faults", {"callbacks": "sideways"}).status_code == 400
    assert world.post("/sandbox/faults", {"send": {"http_status": 200}}).status_code == 400
    assert world.post("/sandbox/faults", {}).status_code == 400


def test_list_uses_twilios_paging_shape(world: World) -> None:  # noqa: F811
    sids = [_create(world, Body=f"m{i}").json()["sid"] for i in range(3)]
    first = world.http.get(_messages_url(world), params={"To": CALLER, "PageSize": 2}, headers=_auth(world)).json()
    assert set(first) >= {"messages", "page", "page_size", "first_page_uri", "next_page_uri", "previous_page_uri"}
    assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
    assert [m["sid"] for m in first["messages"]] == [sids[2], sids[1]]
    assert first["previous_page_uri"] is None
    second = world.http.get(world.url + first["next_page_uri"], headers=_auth(world)).json()
    assert [m["sid"] for m in second["messages"]] == [sids[0]]
    assert second["next_page_uri"] is None
    assert second["previous_page_uri"] is not None


def _twiml(action: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Dial action="{action}" timeout="20"><Number>+13105550142</Number></Dial></Response>'
    )


@pytest.mark.parametrize(
    ("request_body", "dial_status", "duration"),
    [
        ({"answered": False}, "no-answer", "0"),
        ({"answered": False, "dial_status": "busy"}, "busy", "0"),
        ({"answered": True, "duration_seconds": 61}, "completed", "61"),
    ],
)
def test_calls_play_the_voice_webhook_and_the_dial_action(
    world: World,  # noqa: F811
    request_body: dict[str, object],
    dial_status: str,
    duration: str,
) -> None:
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _r: (
        200,
        "text/xml",
        _twiml("/webhooks/twilio/voice/status"),
    )

    answer = world.post("/sandbox/calls", {"from": CALLER, "to": TENANT, **request_body})

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert re.fullmatch(r"CA[0-9a-f]{32}", result["call_sid"])
    assert result["dial"] == {
        "number": "+13105550142",
        "action": "/webhooks/twilio/voice/status",
        "method": "POST",
        "timeout": 20,
        "caller_id": None,
    }
    assert (result["dial_status"], result["webhook_status"]) == (dial_status, [200, 200])
    voice, action = world.ingress.at("/webhooks/twilio/voice")[0], world.ingress.at("/webhooks/twilio/voice/status")[0]
    assert _verify(world, voice)
    assert _verify(world, action)
    assert voice.form["CallStatus"] == "ringing"
    assert voice.form["Direction"] == "inbound"
    assert (voice.form["From"], voice.form["To"], voice.form["Caller"], voice.form["Called"]) == (
        CALLER,
        TENANT,
        CALLER,
        TENANT,
    )
    assert voice.form["CallSid"] == action.form["CallSid"] == result["call_sid"]
    assert (action.form["DialCallStatus"], action.form["DialCallDuration"]) == (dial_status, duration)
    assert action.form["DialCallSid"].startswith("CA")


def test_calls_follow_an_absolute_action_url_and_report_an_unreachable_ingress(world: World) -> None:  # noqa: F811
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _r: (
        200,
        "text/xml",
        _twiml(world.ingress.url("/elsewhere")),
    )
    assert world.post("/sandbox/calls", {"from": CALLER, "to": TENANT}).json()["action_url"].endswith("/elsewhere")
    assert _verify(world, world.ingress.at("/elsewhere")[0])

    key = world.settings.sandbox_key_path
    dead = sandbox_settings(f"http://127.0.0.1:{free_port()}", world.url, Path(key))
    sandbox = build_sandbox(dead)
    served = ServedApp(create_sandbox_app(dead, sandbox))
    try:
        answer = httpx.post(served.base_url + "/sandbox/calls", json={"from": CALLER, "to": TENANT}, timeout=5)
    finally:
        served.stop()
        sandbox.close()
    assert answer.status_code == 502
    assert answer.json()["title"] == "ingress_unreachable"
    assert "cannot reach the ingress" in answer.json()["description"]


def test_inbound_sms_is_posted_signed_and_recorded(world: World) -> None:  # noqa: F811
    answer = world.post(
        "/sandbox/sms",
        {"from": CALLER, "to": TENANT, "body": "how much for a drain?", "media_urls": ["https://x/1.jpg"]},
    ).json()

    assert answer["webhook_status"] == 200
    assert answer["opt_out_type"] is None
    received = world.ingress.at("/webhooks/twilio/sms")[0]
    assert _verify(world, received)
    form = received.form
    assert form["MessageSid"] == form["SmsSid"] == answer["message_sid"]
    assert (form["From"], form["To"], form["Body"], form["NumMedia"], form["MediaUrl0"]) == (
        CALLER,
        TENANT,
        "how much for a drain?",
        "1",
        "https://x/1.jpg",
    )
    assert form["NumSegments"] == "1"
    assert form["AccountSid"] == world.settings.twilio_account_sid
    records = world.http.get(world.url + "/sandbox/messages", params={"from": CALLER}).json()["messages"]
    assert [(r["direction"], r["body"], r["status"]) for r in records] == [
        ("inbound", "how much for a drain?", "received")
    ]
    since = records[0]["created_at"]
    assert world.http.get(world.url + "/sandbox/messages", params={"since": since}).json()["messages"] == []
    assert world.http.delete(world.url + "/sandbox/messages").json() == {"deleted": 1}


def test_clerk_jwks_and_tokens_verify_with_pyjwt_and_survive_a_restart(world: World) -> None:  # noqa: F811
    minted = world.post(
        "/sandbox/clerk/token",
        {"sub": "user_123", "azp": "http://127.0.0.1:8000", "org_id": "org_9", "ttl_seconds": 60},
    ).json()
    jwks_url = world.url + "/.well-known/jwks.json"
    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(minted["token"])
    claims = jwt.decode(
        minted["token"], signing_key.key, algorithms=["RS256"], issuer=world.settings.clerk_issuer, audience=None
    )
    assert (claims["sub"], claims["azp"], claims["org_id"]) == ("user_123", "http://127.0.0.1:8000", "org_9")
    assert claims["exp"] - claims["iat"] == 60
    assert claims["nbf"] <= claims["iat"]
    assert jwt.get_unverified_header(minted["token"])["kid"] == minted["kid"]

    restarted = build_sandbox(world.settings)
    try:
        assert restarted.clerk.jwks() == httpx.get(jwks_url).json()
    finally:
        restarted.close()


def test_stripe_events_are_signed_as_stripe_signs_them(world: World) -> None:  # noqa: F811
    subscription = {"id": "sub_1", "object": "subscription", "status": "active", "customer": "cus_1"}
    answer = world.post(
        "/sandbox/stripe/events", {"type": "customer.subscription.updated", "data": {"object": subscription}}
    ).json()

    received = world.ingress.at("/webhooks/stripe")[0]
    event = stripe.Webhook.construct_event(
        received.body, received.headers["Stripe-Signature"], world.settings.stripe_webhook_secret.get_secret_value()
    )
    assert event.id == answer["event"]["id"]
    assert event.id.startswith("evt_")
    assert (event.type, event.data.object.status, event.livemode) == ("customer.subscription.updated", "active", False)
    assert answer["webhook_status"] == 200
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received.body, received.headers["Stripe-Signature"], "whsec_other")

    # A fixed id replays the same event (Stripe redelivers duplicates).
    again = world.post(
        "/sandbox/stripe/events", {"id": event.id, "type": "customer.subscription.updated", "data": {"object": {}}}
    ).json()
    assert again["event"]["id"] == event.id
