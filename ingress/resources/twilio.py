"""Twilio webhooks: incoming call, dial action / call status, inbound SMS, outbound SMS status.

Each responder runs only after ``twilio_signature`` verified the request; it validates what it needs (400 naming
the problem), routes by our number, and records row + events in one transaction via ``ingress.recording``.
A duplicate answers exactly like the original (Twilio needs the same TwiML again), and writes nothing.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

import falcon
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from domain.conversations.callers import caller_id_name
from domain.conversations.messaging import MAX_BODY_CHARS
from domain.events.catalog import CallAnswered, CallerNamed, CallMissed, MessageReceived, MessageStatusReported
from domain.events.envelope import CORRELATION_PARAM
from domain.phones import to_e164
from ingress.errors import malformed
from ingress.metrics import count_webhook
from ingress.recording import Delivery, Route, WebhookRecorder
from ingress.verification import FormParams, TwilioVerifier, scrub, twilio_signature

PROVIDER = "twilio"
TWIML = "application/xml"
OUTCOME_HEADER = "X-Webhook-Outcome"
MAX_MEDIA = 20
_SID = re.compile(r"^[A-Za-z]{2}[0-9A-Za-z]{1,64}$")
_STATUS = re.compile(r"^[a-z][a-z_-]{0,31}$")

MissedStatus = Literal["no-answer", "busy", "failed", "canceled"]
MISSED_STATUSES: frozenset[str] = frozenset(get_args(MissedStatus))
ANSWERED_STATUSES = frozenset({"completed", "answered"})
# A call placed from our number (a staff callback through Twilio) has a person on the line once in progress.
OUTBOUND_ANSWERED_STATUSES = frozenset({"in-progress", "answered", "completed"})
MessageStatus = Literal[
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled"
]
MESSAGE_STATUSES: frozenset[str] = frozenset(get_args(MessageStatus))

MISSED_LINE = "Sorry we missed your call. We will text you right away."
ANSWERED_LINE = "Thanks for calling. Goodbye."
UNROUTABLE_LINE = "The number you have called is not in service."
# Built once: every SMS and status callback answers with it, and TwiML's XML builder is not free.
EMPTY_TWIML = str(MessagingResponse().to_xml())


def _sid(params: FormParams, *names: str) -> str:
    for name in names:
        value = params.first(name)
        if value:
            if not _SID.match(value):
                raise malformed(f"{name} is not a Twilio SID")
            return value
    raise malformed(f"missing parameter {names[0]}")


def _now() -> datetime:
    return datetime.now(UTC)


class _TwilioWebhook:
    kind: str

    def __init__(self, recorder: WebhookRecorder, verifier: TwilioVerifier, public_base_url: str) -> None:
        self.recorder = recorder
        self.twilio_verifier = verifier
        self.public_base_url = public_base_url.rstrip("/")

    def _answer(self, resp: falcon.Response, outcome: str, twiml: str) -> None:
        count_webhook(PROVIDER, self.kind, outcome)
        resp.status = falcon.HTTP_200
        resp.content_type = TWIML
        resp.set_header(OUTCOME_HEADER, outcome)
        resp.text = twiml


class VoiceResource(_TwilioWebhook):
    """An incoming call: ring the tenant's own phone for ``ring_timeout_seconds`` (short enough that the carrier's
    voicemail does not pick up first), then Twilio calls the status route with how the dial ended.

    With caller ID lookup on the number (``VoiceCallerIdLookup``), Twilio adds ``CallerName`` (the carrier's CNAM):
    a ``CallerNamed`` from ``caller_id``, which conversations keeps unless staff named the caller. A name that
    names nobody (``WIRELESS CALLER``) or has nothing printable is left out, never a reason to refuse the call."""

    kind = "voice"

    @falcon.before(twilio_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        params: FormParams = req.context.params
        call_sid = _sid(params, "CallSid")
        called = to_e164(params.first("To") or params.first("Called"))
        caller = to_e164(params.first("From") or params.first("Caller"))
        name = caller_id_name(params.first("CallerName"))
        events: list[object] = []
        if caller is not None and name is not None:
            events = [CallerNamed(phone=caller, caller_name=name, source="caller_id", actor=None)]
        outcome, route = self.recorder.record(
            Delivery(PROVIDER, f"{call_sid}:voice", self.kind, params.to_json()),
            number=called,
            events=events,
            correlation_id=req.context.correlation_id,
            # Joins the caller's chain while it is open (a text or call before), never starts one: the missed call's
            # verdict does that, as without a name.
            caller=caller if events else None,
        )
        self._answer(resp, outcome, self._twiml(route))

    def _twiml(self, route: Route | None) -> str:
        response = VoiceResponse()
        if route is None:
            response.say(UNROUTABLE_LINE)
            response.hangup()
        else:
            dial = response.dial(
                timeout=route.ring_timeout_seconds,
                action=f"{self.public_base_url}/webhooks/twilio/voice/status",
                method="POST",
                answer_on_bridge=True,
            )
            dial.number(route.forward_to)
        return str(response.to_xml())


class VoiceStatusResource(_TwilioWebhook):
    """The dial action (``DialCallStatus``) or a call status callback (``CallStatus``): decides "missed", and
    "answered" (``CallAnswered``) for a caller's call a person picked up.

    A call placed *from* one of our numbers (``Direction`` ``outbound-api``/``outbound-dial`` without a
    ``ParentCallSid``: a staff callback through Twilio, with this route as its status callback) is routed by
    ``From``; it is never "missed", and answered it is a ``CallAnswered`` outbound."""

    kind = "voice-status"

    @falcon.before(twilio_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        params: FormParams = req.context.params
        call_sid = _sid(params, "CallSid")
        # In a dial action CallStatus describes the parent leg (in-progress); DialCallStatus is the verdict.
        status = (params.first("DialCallStatus") or params.first("CallStatus") or "").strip().lower()
        if not status:
            raise malformed("missing parameter DialCallStatus or CallStatus")
        if not _STATUS.match(status):
            raise malformed("DialCallStatus is not a call status")
        caller = to_e164(params.first("From") or params.first("Caller"))
        called = to_e164(params.first("To") or params.first("Called"))
        direction = (params.first("Direction") or "inbound").strip().lower()
        if direction.startswith("outbound") and not params.first("ParentCallSid"):
            self._outbound(req, resp, call_sid, status, business=caller, customer=called)
            return
        if status in MISSED_STATUSES:
            verdict = "missed"
        elif status in ANSWERED_STATUSES:
            verdict = "answered"
        else:
            verdict = status  # ringing, in-progress, …: recorded, no decision yet

        events: list[object] | None = None  # ringing, in-progress, … or an anonymous caller we cannot text back
        if verdict == "answered":
            events = []
            # Only the dial's verdict says a person picked up: a bare CallStatus "completed" ends every parent
            # call, missed ones too (Twilio answered it to play our TwiML).
            dial_answered = (params.first("DialCallStatus") or "").strip().lower() in ANSWERED_STATUSES
            if dial_answered and caller is not None and called is not None:
                events = [
                    CallAnswered(
                        call_sid=call_sid,
                        direction="inbound",
                        customer_phone=caller,
                        business_number=called,
                        answered_at=_now(),
                    )
                ]
        elif verdict == "missed" and caller is not None and called is not None:
            missed = CallMissed(
                call_sid=call_sid,
                caller=caller,
                called=called,
                dial_status=cast(MissedStatus, status),
                missed_at=_now(),
            )
            events = [missed]

        # One missed (or answered) verdict per call, whichever of dial action or status callback says it first.
        outcome, _route = self.recorder.record(
            Delivery(PROVIDER, f"{call_sid}:{verdict}", self.kind, params.to_json()),
            number=called,
            events=events,
            correlation_id=req.context.correlation_id,
            caller=caller,
            keeps_chain=True,
        )
        response = VoiceResponse()
        response.say(MISSED_LINE if verdict == "missed" else ANSWERED_LINE)
        response.hangup()
        self._answer(resp, outcome, str(response.to_xml()))

    def _outbound(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        call_sid: str,
        status: str,
        *,
        business: str | None,
        customer: str | None,
    ) -> None:
        answered = status in OUTBOUND_ANSWERED_STATUSES
        events: list[object] | None = None  # ringing, no-answer, …: recorded, nothing follows
        if answered and business is not None and customer is not None:
            events = [
                CallAnswered(
                    call_sid=call_sid,
                    direction="outbound",
                    customer_phone=customer,
                    business_number=business,
                    answered_at=_now(),
                )
            ]
        # One "answered" per call, whichever of its status callbacks says it first.
        outcome, _route = self.recorder.record(
            Delivery(PROVIDER, f"{call_sid}:{'answered' if answered else status}", self.kind, params_json(req)),
            number=business,
            events=events,
            correlation_id=req.context.correlation_id,
            caller=customer,
            keeps_chain=True,
        )
        self._answer(resp, outcome, EMPTY_TWIML)


class SmsResource(_TwilioWebhook):
    """An inbound SMS/MMS from a caller: ``MessageReceived``; empty TwiML back (replies go out asynchronously)."""

    kind = "sms"

    @falcon.before(twilio_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        params: FormParams = req.context.params
        message_sid = _sid(params, "MessageSid", "SmsSid")
        sender = to_e164(params.first("From"))
        to_number = to_e164(params.first("To"))
        num_media = _int(params.first("NumMedia") or "0", "NumMedia")
        if not 0 <= num_media <= MAX_MEDIA:
            raise malformed(f"NumMedia must be between 0 and {MAX_MEDIA}")
        media_urls = tuple(scrub(params.first(f"MediaUrl{index}") or "") for index in range(num_media))
        if not all(media_urls):
            raise malformed("NumMedia does not match the MediaUrl parameters")
        body = scrub(params.first("Body") or "")
        if len(body) > MAX_BODY_CHARS:
            raise malformed(f"Body is longer than {MAX_BODY_CHARS} characters, Twilio's limit for one message")
        stored = params.to_json()
        events: list[object] | None = None  # a short code or alphanumeric sender cannot be answered
        if sender is not None and to_number is not None:
            received = MessageReceived(
                message_sid=message_sid,
                from_number=sender,
                to_number=to_number,
                body=body,
                num_media=num_media,
                media_urls=media_urls,
                received_at=_now(),
            )
            events = [received]

        outcome, _route = self.recorder.record(
            Delivery(PROVIDER, message_sid, self.kind, stored),
            number=to_number,
            events=events,
            correlation_id=req.context.correlation_id,
            caller=sender,
            keeps_chain=True,
        )
        self._answer(resp, outcome, EMPTY_TWIML)


class SmsStatusResource(_TwilioWebhook):
    """A status callback for one of our outbound messages; deduped on (MessageSid, MessageStatus) because each
    status is its own fact, arriving late, twice or out of order."""

    kind = "sms-status"

    @falcon.before(twilio_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        params: FormParams = req.context.params
        message_sid = _sid(params, "MessageSid", "SmsSid")
        status = (params.first("MessageStatus") or params.first("SmsStatus") or "").strip().lower()
        if not status:
            raise malformed("missing parameter MessageStatus")
        if not _STATUS.match(status):
            raise malformed("MessageStatus is not a message status")
        raw_error = params.first("ErrorCode")
        error_code = _int(raw_error, "ErrorCode") if raw_error else None
        # Outbound: From is our number.
        our_number = to_e164(params.first("From"))
        events: list[object] | None = None  # a status the catalog does not know yet is kept, not an error
        if status in MESSAGE_STATUSES:
            reported = MessageStatusReported(
                message_sid=message_sid,
                status=cast(MessageStatus, status),
                error_code=error_code,
                reported_at=_now(),
            )
            events = [reported]

        outcome, _route = self.recorder.record(
            Delivery(PROVIDER, f"{message_sid}:{status}", self.kind, params.to_json()),
            number=our_number,
            events=events,
            correlation_id=_chain_of_sent(req) or req.context.correlation_id,
        )
        self._answer(resp, outcome, EMPTY_TWIML)


def _chain_of_sent(req: falcon.Request) -> uuid.UUID | None:
    """The chain of the message a status report is about, from its callback URL (signed by Twilio with the rest, so
    trusted once the signature passed); None when absent or not a UUID (an older message's plain callback URL)."""
    value = req.get_param(CORRELATION_PARAM)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def params_json(req: falcon.Request) -> dict[str, Any]:
    params: FormParams = req.context.params
    return params.to_json()


def _int(value: str, name: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise malformed(f"{name} is not a non-negative integer")
    return int(text)


__all__ = ["SmsResource", "SmsStatusResource", "VoiceResource", "VoiceStatusResource"]
