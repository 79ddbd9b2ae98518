"""The world outside the product: callers ringing and texting tenant numbers, Stripe sending events.

Each function plays one provider-to-ingress exchange through a ``Courier`` and returns what happened, or raises
``IngressUnreachable`` when the ingress cannot be reached at all.
"""

from __future__ import annotations

import json
import secrets
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
import stripe

from ops.sandbox.calls import Call, CallLog
from ops.sandbox.delivery import Courier
from ops.sandbox.state import (
    API_VERSION,
    HELP_KEYWORDS,
    START_KEYWORDS,
    STOP_KEYWORDS,
    Message,
    SandboxState,
    new_sid,
    num_segments,
)

DIAL_STATUSES = ("completed", "no-answer", "busy", "failed", "canceled")


class IngressUnreachable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the ingress at {url}: {reason}")
        self.url = url
        self.reason = reason


class BadTwiml(Exception):
    """The voice webhook answered with something that is not TwiML."""


@dataclass(frozen=True)
class Dial:
    number: str | None
    action: str | None
    method: str
    timeout: int
    caller_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "action": self.action,
            "method": self.method,
            "timeout": self.timeout,
            "caller_id": self.caller_id,
        }


def parse_dial(twiml: str) -> Dial | None:
    """The first <Dial> of a TwiML <Response>, or None when the response does not dial."""
    try:
        # The document comes from our own ingress, not from the internet.
        root = ElementTree.fromstring(twiml)  # noqa: S314
    except ElementTree.ParseError as error:
        raise BadTwiml(f"voice webhook did not answer TwiML: {error}") from None
    if root.tag != "Response":
        raise BadTwiml(f"TwiML root is <{root.tag}>, expected <Response>")
    dial = root.find("Dial")
    if dial is None:
        return None
    number = dial.find("Number")
    target = (number.text if number is not None else dial.text) or ""
    return Dial(
        number=target.strip() or None,
        action=dial.get("action"),
        method=(dial.get("method") or "POST").upper(),
        timeout=int(dial.get("timeout") or 30),
        caller_id=dial.get("callerId"),
    )


def _post(courier: Courier, url: str, params: dict[str, str]) -> httpx.Response:
    try:
        return courier.post_form(url, params)
    except httpx.HTTPError as error:
        raise IngressUnreachable(url, str(error) or type(error).__name__) from None


def place_call(
    courier: Courier,
    *,
    account_sid: str,
    public_base_url: str,
    caller: str,
    called: str,
    answered: bool,
    dial_status: str | None,
    duration_seconds: int,
    calls: CallLog | None = None,
) -> dict[str, Any]:
    """A caller rings a tenant number: the voice webhook, its <Dial>, then the dial action callback (and, in
    ``calls``, the parent call and its dialled leg as Twilio's call list shows them)."""
    call_sid = new_sid("CA")
    started = datetime.now(UTC)
    voice_url = f"{public_base_url}/webhooks/twilio/voice"
    base = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid,
        "Called": called,
        "Caller": caller,
        "Direction": "inbound",
        "From": caller,
        "To": called,
    }
    answer = _post(courier, voice_url, {**base, "CallStatus": "ringing"})
    result: dict[str, Any] = {
        "call_sid": call_sid,
        "voice_url": voice_url,
        "twiml": answer.text,
        "dial": None,
        "dial_status": None,
        "action_url": None,
        "webhook_status": [answer.status_code],
    }
    if answer.status_code >= 400:
        return result
    dial = parse_dial(answer.text)
    if dial is None:
        return result
    status = "completed" if answered else (dial_status or "no-answer")
    if calls is not None:
        leg_duration = duration_seconds if answered else 0
        calls.add(Call(call_sid, account_sid, caller, called, "completed", "inbound", started, leg_duration + 1))
        calls.add(
            Call(
                new_sid("CA"), account_sid, dial.caller_id or caller, dial.number or "", status, "outbound-dial",
                started, leg_duration, parent_call_sid=call_sid,
            )
        )  # fmt: skip
    result["dial"] = dial.as_dict()
    result["dial_status"] = status
    if not dial.action:
        return result  # Twilio only calls back when <Dial> names an action
    action_url = urljoin(voice_url, dial.action)
    params = {
        **base,
        # The caller is still on the line while Twilio fetches the action, unless they hung up first.
        "CallStatus": "completed" if status == "canceled" else "in-progress",
        "DialCallStatus": status,
        "DialCallSid": new_sid("CA"),
        "DialCallDuration": str(duration_seconds if answered else 0),
    }
    action = _post(courier, action_url, params)
    result["action_url"] = action_url
    result["webhook_status"].append(action.status_code)
    return result


def place_outbound_call(
    courier: Courier,
    calls: CallLog,
    *,
    account_sid: str,
    public_base_url: str,
    number: str,
    customer: str,
    answered: bool,
    duration_seconds: int,
    status_callback: bool,
) -> dict[str, Any]:
    """Staff call a customer from a tenant number through Twilio (``outbound-api``): the call goes in the call log
    and, with ``status_callback``, Twilio posts its final status to the voice status route (as a call created with
    ``StatusCallback`` pointing there would)."""
    call_sid = new_sid("CA")
    status = "completed" if answered else "no-answer"
    calls.add(
        Call(call_sid, account_sid, number, customer, status, "outbound-api", datetime.now(UTC),
             duration_seconds if answered else 0)
    )  # fmt: skip
    result: dict[str, Any] = {"call_sid": call_sid, "status": status, "webhook_status": None}
    if not status_callback:
        return result
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid,
        "CallStatus": status,
        "CallDuration": str(duration_seconds if answered else 0),
        "Called": customer,
        "Caller": number,
        "Direction": "outbound-api",
        "From": number,
        "To": customer,
    }
    answer = _post(courier, f"{public_base_url}/webhooks/twilio/voice/status", params)
    result["webhook_status"] = answer.status_code
    return result


def receive_sms(
    courier: Courier,
    state: SandboxState,
    *,
    account_sid: str,
    public_base_url: str,
    caller: str,
    number: str,
    body: str,
    media_urls: list[str],
) -> dict[str, Any]:
    """A caller texts a tenant number. The carrier block list changes first, as Twilio's does."""
    sid = new_sid("SM")
    keyword = body.strip().upper()
    opt_out_type = None
    if keyword in STOP_KEYWORDS:
        state.block(caller, number)
        opt_out_type = "STOP"
    elif keyword in START_KEYWORDS:
        state.unblock(caller, number)
        opt_out_type = "START"
    elif keyword in HELP_KEYWORDS:
        opt_out_type = "HELP"
    state.add(
        Message(
            sid=sid,
            account_sid=account_sid,
            to=number,
            from_=caller,
            body=body,
            direction="inbound",
            status="received",
            media_urls=list(media_urls),
            status_callback=None,
            created_at=datetime.now(UTC),
        )
    )
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": caller,
        "MessageSid": sid,
        "NumMedia": str(len(media_urls)),
        "NumSegments": str(num_segments(body)),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": number,
    }
    for index, url in enumerate(media_urls):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = "image/jpeg"
    if opt_out_type:
        params["OptOutType"] = opt_out_type
    url = f"{public_base_url}/webhooks/twilio/sms"
    answer = _post(courier, url, params)
    return {
        "message_sid": sid,
        "webhook_url": url,
        "webhook_status": answer.status_code,
        "opt_out_type": opt_out_type,
        "blocked": state.is_blocked(caller, number),
    }


def send_stripe_event(
    courier: Courier,
    *,
    public_base_url: str,
    secret: str,
    event_type: str,
    data: dict[str, Any],
    created: int | None,
    event_id: str | None,
    signed_at: int | None,
) -> dict[str, Any]:
    """Build an Event exactly as Stripe serialises it and post it signed with Stripe's own header scheme."""
    event = {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    payload = json.dumps(event, indent=2)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=signed_at)
    url = f"{public_base_url}/webhooks/stripe"
    try:
        answer = courier.post_json(url, payload.encode(), {"Stripe-Signature": header})
    except httpx.HTTPError as error:
        raise IngressUnreachable(url, str(error) or type(error).__name__) from None
    return {"event": event, "webhook_url": url, "webhook_status": answer.status_code, "webhook_body": answer.text}
