"""Twilio's Messages API as the sandbox plays it: validation, error codes, faults and status callbacks."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import phonenumbers

from ops.sandbox.delivery import Courier
from ops.sandbox.state import API_VERSION, CallbackMode, FinalStatusFault, Message, SandboxState, new_sid

logger = logging.getLogger("nmc.sandbox")


class TwilioApiError(Exception):
    """An error answered in Twilio's JSON error shape."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.http_status,
        }


def is_e164(number: str) -> bool:
    if not number.startswith("+"):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    # "possible" rather than "valid": the 555 numbers tests and demos use are possible but not assigned.
    return phonenumbers.is_possible_number(parsed)


@dataclass(frozen=True)
class Step:
    status: str
    error_code: int | None = None


class Messaging:
    def __init__(self, state: SandboxState, courier: Courier, *, account_sid: str, delay_seconds: float) -> None:
        self._state = state
        self._courier = courier
        self._account_sid = account_sid
        self._delay = delay_seconds

    def create(
        self, *, to: str | None, from_: str | None, body: str | None, media_urls: list[str], status_callback: str | None
    ) -> Message:
        fault = self._state.take_send_fault()
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.http_status is not None:
                raise TwilioApiError(fault.http_status, fault.code, fault.message)
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not is_e164(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if not is_e164(from_):
            raise TwilioApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if not body and not media_urls:
            raise TwilioApiError(400, 21602, "Message body is required.")
        if self._state.is_blocked(to, from_):
            raise TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        message = Message(
            sid=new_sid("SM"),
            account_sid=self._account_sid,
            to=to,
            from_=from_,
            body=body or "",
            direction="outbound-api",
            status="queued",
            media_urls=media_urls,
            status_callback=status_callback or None,
            created_at=datetime.now(UTC),
        )
        self._state.add(message)
        self._schedule(message.sid, self._state.take_final_fault(), self._state.callback_mode)
        return message

    def _schedule(self, sid: str, final: FinalStatusFault | None, mode: CallbackMode) -> None:
        if final is None:
            steps = [Step("sent"), Step("delivered")]
        elif final.status == "failed":
            steps = [Step("failed", final.error_code)]  # a failed message never left Twilio
        else:
            steps = [Step("sent"), Step(final.status, final.error_code)]
        if mode == "reorder" and len(steps) > 1:
            # The provider's state moves in order; only the callbacks arrive backwards.
            def first() -> None:
                for step in steps:
                    self._state.advance(sid, step.status, error_code=step.error_code)
                self._notify(sid, steps[-1], mode)
                self._courier.later(self._delay, lambda: self._notify(sid, steps[0], mode))

            self._courier.later(self._delay, first)
            return

        def run(index: int) -> None:
            step = steps[index]
            self._state.advance(sid, step.status, error_code=step.error_code)
            self._notify(sid, step, mode)
            if index + 1 < len(steps):
                self._courier.later(self._delay, lambda: run(index + 1))

        self._courier.later(self._delay, lambda: run(0))

    def _notify(self, sid: str, step: Step, mode: CallbackMode) -> None:
        message = self._state.get(sid)
        if message is None or not message.status_callback or mode == "drop":
            return
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "MessageSid": message.sid,
            "MessageStatus": step.status,
            "SmsSid": message.sid,
            "SmsStatus": step.status,
            "To": message.to,
        }
        if step.error_code is not None:
            params["ErrorCode"] = str(step.error_code)
        for _ in range(2 if mode == "duplicate" else 1):
            try:
                answer = self._courier.post_form(message.status_callback, params)
            except httpx.HTTPError as error:
                logger.warning("status callback to %s failed: %s", message.status_callback, error)
                return
            if answer.status_code >= 400:
                logger.warning("status callback to %s answered %s", message.status_callback, answer.status_code)
