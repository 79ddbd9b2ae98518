"""Signature verification for provider webhooks, run as ``falcon.before`` hooks ahead of any responder.

A responder only ever sees a request whose signature checked out: ``req.context.params`` (Twilio, a multi-dict)
or ``req.context.stripe_event`` (the parsed JSON). Anything else has already been answered 403/400/413 and has
written nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

import falcon
import stripe
from twilio.request_validator import RequestValidator

from ingress.errors import ApiError, forbidden, malformed
from ingress.json_body import parse_json
from ingress.metrics import count_webhook
from ingress.middleware import read_body

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
MAX_FORM_FIELDS = 512


class FormParams(dict[str, list[str]]):
    """All received parameters with repeated keys kept (Twilio signs every value of a repeated key)."""

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> FormParams:
        params = cls()
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        return params

    def getlist(self, name: str) -> list[str]:  # the accessor RequestValidator looks for
        return self.get(name, [])

    def first(self, name: str) -> str | None:
        values = self.get(name)
        return values[0] if values else None

    def to_json(self) -> dict[str, Any]:
        """Storable form: single values as strings, repeated keys as lists; NULs (Postgres refuses them) replaced."""
        return {
            scrub(key): scrub(values[0]) if len(values) == 1 else [scrub(value) for value in values]
            for key, values in self.items()
        }


def scrub(value: str) -> str:
    """Postgres refuses NUL characters and lone surrogates; a form body can carry NULs, and real provider text
    (a caller's SMS, a Stripe description) may, so they are replaced rather than refused. (JSON bodies with a lone
    surrogate never get here: ``parse_json`` refuses them.)"""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "\ufffd")


def scrub_json(value: Any) -> Any:
    """``scrub`` applied to every string (keys too) of a parsed JSON document."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(key)): scrub_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_json(item) for item in value]
    return value


class TwilioVerifier:
    """Twilio's RequestValidator over the URL Twilio called, rebuilt from PUBLIC_BASE_URL (never from Host or
    X-Forwarded-* headers, which the caller controls)."""

    def __init__(self, auth_token: str, public_base_url: str, max_body_bytes: int) -> None:
        self._validator = RequestValidator(auth_token)
        self._base_url = public_base_url.rstrip("/")
        self._max_body_bytes = max_body_bytes

    def url_for(self, req: falcon.Request) -> str:
        return self._base_url + req.relative_uri

    def verify(self, req: falcon.Request) -> FormParams:
        body = read_body(req, self._max_body_bytes)
        signature = req.get_header(TWILIO_SIGNATURE_HEADER)
        if not signature:
            raise forbidden(f"missing {TWILIO_SIGNATURE_HEADER} header")
        # Twilio only sends UTF-8; an undecodable byte becomes U+FFFD and simply fails the signature.
        text = body.decode("utf-8", errors="replace")
        url = self.url_for(req)
        if _is_json(req):
            return self._verify_json(req, url, text, signature)
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            raise malformed(f"more than {MAX_FORM_FIELDS} form fields") from None
        params = FormParams.from_pairs(pairs)
        if not self._validator.validate(url, params, signature):
            raise forbidden("Twilio signature does not match")
        return params

    def _verify_json(self, req: falcon.Request, url: str, text: str, signature: str) -> FormParams:
        # The JSON variant: the URL carries bodySHA256 and the signature covers the URL alone.
        if not req.get_param("bodySHA256"):
            raise forbidden("a JSON body must be signed through the bodySHA256 query parameter")
        if not self._validator.validate(url, text, signature):
            raise forbidden("Twilio signature or bodySHA256 does not match")
        document = parse_json(text)
        if not isinstance(document, dict):
            raise malformed("JSON body must be an object")
        params = FormParams()
        for key, value in document.items():
            values = value if isinstance(value, list) else [value]
            params[str(key)] = [_stringify(item) for item in values]
        return params


def _stringify(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _is_json(req: falcon.Request) -> bool:
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


class StripeVerifier:
    """stripe-python's signature check on the raw bytes (tolerance for old timestamps, every ``v1`` value tried so
    secret rotation works), plus the refusal of future timestamps that stripe-python lets through."""

    def __init__(self, secret: str, tolerance_seconds: int, max_body_bytes: int) -> None:
        self._secret = secret
        self._tolerance = tolerance_seconds
        self._max_body_bytes = max_body_bytes

    def verify(self, req: falcon.Request) -> dict[str, Any]:
        body = read_body(req, self._max_body_bytes)
        header = req.get_header(STRIPE_SIGNATURE_HEADER)
        if not header:
            raise forbidden(f"missing {STRIPE_SIGNATURE_HEADER} header")
        try:
            stripe.WebhookSignature.verify_header(body, header, self._secret, self._tolerance)
        except stripe.SignatureVerificationError as error:
            raise forbidden(f"Stripe signature refused: {_first_sentence(str(error.user_message or error))}") from None
        except (UnicodeDecodeError, ValueError):
            raise forbidden("Stripe signature refused: body is not UTF-8") from None
        if _signed_at(header) > time.time() + self._tolerance:
            raise forbidden("Stripe signature refused: timestamp is in the future")
        document = parse_json(body)
        if not isinstance(document, dict):
            raise malformed("JSON body must be an object")
        return document


def _signed_at(header: str) -> int:
    # The same parse stripe-python applies (first "t" item); it already succeeded, so this cannot fail.
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value)
    return 0


def _first_sentence(message: str) -> str:
    return message.split(". ", 1)[0].strip().rstrip(".")[:200]


class _TwilioResource(Protocol):
    twilio_verifier: TwilioVerifier
    kind: str


class _StripeResource(Protocol):
    stripe_verifier: StripeVerifier
    kind: str


def twilio_signature(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """``falcon.before`` hook: verify a Twilio webhook; the parameters land in ``req.context.params``."""
    resource = cast(_TwilioResource, resource)
    try:
        req.context.params = resource.twilio_verifier.verify(req)
    except ApiError as error:
        count_webhook("twilio", resource.kind, _outcome_of(error))
        raise


def stripe_signature(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """``falcon.before`` hook: verify a Stripe webhook; the parsed event lands in ``req.context.stripe_event``."""
    resource = cast(_StripeResource, resource)
    try:
        req.context.stripe_event = resource.stripe_verifier.verify(req)
    except ApiError as error:
        count_webhook("stripe", resource.kind, _outcome_of(error))
        raise


def _outcome_of(error: ApiError) -> str:
    return "forged" if error.status_code == 403 else "malformed"
