"""The conversations module's ``CallLog`` port: Twilio's Calls list, read through the ``twilio`` SDK.

What it can see is what went through the business's Twilio number: the caller's re-call (the parent call from the
caller to the number, and its ``<Dial>`` child leg to the forward-to phone, which is "in-progress" or "completed"
only when a person picked up) and calls placed from the number itself (a staff callback through Twilio). A staff
member calling back from their own cell phone does not go through Twilio and is invisible here.
"""

from __future__ import annotations

from datetime import datetime

from domain.conversations.ports import CallbackSeen, CallLogUnavailable
from workers.adapters.twilio_gateway import ProviderCall, ProviderError, TwilioGateway

# A person is (or was) on the line: an answered call is in progress, or completed after being answered.
ANSWERED = frozenset({"in-progress", "completed"})


class TwilioCallLog:
    def __init__(self, gateway: TwilioGateway) -> None:
        self._gateway = gateway

    def callback_since(
        self, *, business_number: str, customer: str, since: datetime, missed_call_sid: str
    ) -> CallbackSeen | None:
        try:
            return self._staff_call(business_number, customer, since) or self._recall(
                business_number, customer, since, missed_call_sid
            )
        except ProviderError as error:
            raise CallLogUnavailable(str(error)) from error

    def _staff_call(self, business_number: str, customer: str, since: datetime) -> CallbackSeen | None:
        for call in self._gateway.list_calls(from_=business_number, to=customer, start_time_after=since):
            if _after(call, since) and call.status in ANSWERED and not call.parent_call_sid:
                return CallbackSeen(call.sid, "staff_called_back")
        return None

    def _recall(self, business_number: str, customer: str, since: datetime, missed: str) -> CallbackSeen | None:
        for call in self._gateway.list_calls(from_=customer, to=business_number, start_time_after=since):
            if call.sid == missed or not _after(call, since) or call.status not in ANSWERED:
                continue
            # The parent call is answered by Twilio itself (it plays our TwiML): a person answered only if its
            # dialled leg was.
            for leg in self._gateway.list_calls(parent_call_sid=call.sid):
                if leg.status in ANSWERED:
                    return CallbackSeen(call.sid, "caller_recall_answered")
        return None


def _after(call: ProviderCall, since: datetime) -> bool:
    # Twilio's StartTime> filter is by date: the time itself is compared here.
    return call.start_time is None or call.start_time >= since.replace(microsecond=0)
