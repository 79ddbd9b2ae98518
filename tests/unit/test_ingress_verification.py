"""Signature verification with signatures computed by the providers' own SDKs."""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import urlencode

import falcon
import falcon.testing
import pytest
import stripe
from twilio.request_validator import RequestValidator

from domain.phones import to_e164
from ingress.errors import ApiError
from ingress.verification import FormParams, StripeVerifier, TwilioVerifier

TOKEN = "unit-test-auth-token-0000000000"
SECRET = "whsec_unit_test_secret"
BASE = "https://hooks.example.com"
PATH = "/webhooks/twilio/sms"
PARAMS = [("MessageSid", "SM" + "a" * 32), ("From", "+13105551212"), ("To", "+13105550000"), ("Body", "Hi there")]


def twilio_request(
    params: list[tuple[str, str]] = PARAMS,
    *,
    signed_url: str | None = None,
    query: str = "",
    body: bytes | None = None,
    signature: str | None = "compute",
    headers: dict[str, str] | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> falcon.Request:
    url = signed_url or BASE + PATH + (f"?{query}" if query else "")
    multi = FormParams.from_pairs(params)
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if signature == "compute":
        all_headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(url, multi)
    elif signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    raw = urlencode(params).encode() if body is None else body
    return falcon.testing.create_req(path=PATH, query_string=query, headers=all_headers, body=raw, method="POST")


def verifier(base: str = BASE) -> TwilioVerifier:
    return TwilioVerifier(TOKEN, base, 64 * 1024)


def refused(call: object, status: int) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status_code == status
    return caught.value


def test_valid_form_request_yields_every_parameter() -> None:
    params = verifier().verify(twilio_request())
    assert params.first("Body") == "Hi there"
    assert params.first("From") == "+13105551212"


@pytest.mark.parametrize("signed_url", [f"{BASE}:443{PATH}", f"{BASE}{PATH}"])
def test_signature_with_or_without_the_port_is_accepted(signed_url: str) -> None:
    assert verifier().verify(twilio_request(signed_url=signed_url)).first("To") == "+13105550000"


def test_base_url_with_explicit_port_matches_signature_without_it() -> None:
    request = twilio_request(signed_url=f"{BASE}{PATH}")
    assert verifier(f"{BASE}:443").verify(request).first("To") == "+13105550000"


def test_query_string_is_part_of_the_signed_url() -> None:
    assert verifier().verify(twilio_request(query="tenant=abc&x=1")).first("To")
    forged = twilio_request(signed_url=f"{BASE}{PATH}?tenant=abc", query="tenant=evil")
    refused(lambda: verifier().verify(forged), 403)


def test_repeated_keys_are_all_signed() -> None:
    params = [*PARAMS, ("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://a.example/2")]
    verified = verifier().verify(twilio_request(params))
    assert verified.getlist("MediaUrl") == ["https://a.example/1", "https://a.example/2"]
    # Dropping one of the repeated values breaks the signature.
    signature = RequestValidator(TOKEN).compute_signature(BASE + PATH, FormParams.from_pairs(params))
    partial = twilio_request(params[:-1], signature=signature)
    refused(lambda: verifier().verify(partial), 403)


def test_tampered_body_is_forged() -> None:
    signature = RequestValidator(TOKEN).compute_signature(BASE + PATH, FormParams.from_pairs(PARAMS))
    tampered = [*PARAMS[:-1], ("Body", "Hi therE")]
    error = refused(lambda: verifier().verify(twilio_request(tampered, signature=signature)), 403)
    assert error.error_code == "forbidden"


def test_missing_signature_header_is_forged() -> None:
    error = refused(lambda: verifier().verify(twilio_request(signature=None)), 403)
    assert "X-Twilio-Signature" in (error.description or "")


def test_wrong_token_is_forged() -> None:
    other = RequestValidator("another-token").compute_signature(BASE + PATH, FormParams.from_pairs(PARAMS))
    refused(lambda: verifier().verify(twilio_request(signature=other)), 403)


def test_forwarded_host_headers_do_not_change_the_url() -> None:
    # Signed for an attacker's host: must fail even though the request claims to have come through it.
    evil = "https://evil.example.com" + PATH
    request = twilio_request(
        signed_url=evil, headers={"Host": "evil.example.com", "X-Forwarded-Host": "evil.example.com"}
    )
    refused(lambda: verifier().verify(request), 403)
    honest = twilio_request(headers={"X-Forwarded-Host": "evil.example.com", "X-Forwarded-Proto": "http"})
    assert verifier().verify(honest).first("Body") == "Hi there"


def test_json_body_variant_with_body_sha256() -> None:
    document = {"CallSid": "CA" + "b" * 32, "To": "+13105550000", "Tags": ["a", "b"]}
    raw = json.dumps(document)
    query = "bodySHA256=" + hashlib.sha256(raw.encode()).hexdigest()
    url = f"{BASE}{PATH}?{query}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    request = twilio_request(
        query=query, body=raw.encode(), signature=signature, content_type="application/json; charset=utf-8"
    )
    params = verifier().verify(request)
    assert params.first("CallSid") == "CA" + "b" * 32
    assert params.getlist("Tags") == ["a", "b"]
    tampered = twilio_request(
        query=query, body=raw.replace("+1310", "+1311").encode(), signature=signature, content_type="application/json"
    )
    refused(lambda: verifier().verify(tampered), 403)
    unsigned_hash = twilio_request(body=raw.encode(), signature=signature, content_type="application/json")
    refused(lambda: verifier().verify(unsigned_hash), 403)


def test_body_over_the_limit_is_413() -> None:
    big = twilio_request([*PARAMS, ("Body", "x" * 70_000)])
    refused(lambda: verifier().verify(big), 413)


def test_undecodable_body_is_forged_not_a_crash() -> None:
    refused(lambda: verifier().verify(twilio_request(body=b"Body=\xff\xfe&To=%FF")), 403)


# --- Stripe ---------------------------------------------------------------------------------------------------

EVENT = json.dumps({"id": "evt_1", "type": "customer.subscription.updated", "created": 1, "data": {"object": {}}})


def stripe_request(body: str = EVENT, header: str | None = None) -> falcon.Request:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return falcon.testing.create_req(path="/webhooks/stripe", headers=headers, body=body.encode(), method="POST")


def stripe_verifier() -> StripeVerifier:
    return StripeVerifier(SECRET, 300, 64 * 1024)


def sign(body: str = EVENT, *, at: float | None = None, secret: str = SECRET) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=int(at or time.time()))


def test_stripe_valid_signature() -> None:
    assert stripe_verifier().verify(stripe_request(header=sign()))["id"] == "evt_1"


@pytest.mark.parametrize("offset", [-301, 301])
def test_stripe_timestamps_outside_300_seconds_are_refused(offset: int) -> None:
    refused(lambda: stripe_verifier().verify(stripe_request(header=sign(at=time.time() + offset))), 403)


@pytest.mark.parametrize("offset", [-290, 290])
def test_stripe_timestamps_inside_300_seconds_pass(offset: int) -> None:
    assert stripe_verifier().verify(stripe_request(header=sign(at=time.time() + offset)))["id"] == "evt_1"


def test_stripe_rotation_accepts_any_matching_v1() -> None:
    old = sign(secret="whsec_old_secret")
    new = sign()
    header = f"{old},v1={new.split('v1=')[1]}"
    assert stripe_verifier().verify(stripe_request(header=header))["type"] == "customer.subscription.updated"
    refused(lambda: stripe_verifier().verify(stripe_request(header=old)), 403)


def test_stripe_tampered_missing_and_garbage_headers_are_forged() -> None:
    refused(lambda: stripe_verifier().verify(stripe_request(EVENT.replace("evt_1", "evt_2"), sign())), 403)
    refused(lambda: stripe_verifier().verify(stripe_request(header=None)), 403)
    refused(lambda: stripe_verifier().verify(stripe_request(header="t=abc,v1=zz")), 403)
    refused(lambda: stripe_verifier().verify(stripe_request(header="v1=00")), 403)


def test_stripe_signed_but_not_json_is_malformed() -> None:
    refused(lambda: stripe_verifier().verify(stripe_request("not json", sign("not json"))), 400)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+13105551212", "+13105551212"),
        ("(310) 555-1212", "+13105551212"),
        ("+44 20 7946 0958", "+442079460958"),
        ("anonymous", None),
        ("", None),
        ("12345", None),
        ("+1 555 0100 99999999999", None),
        ("555-0199", None),  # no area code: dialable only locally, no E.164 form to text
        ("+15550199", None),
    ],
)
def test_numbers_are_normalized_to_e164(raw: str, expected: str | None) -> None:
    assert to_e164(raw) == expected
