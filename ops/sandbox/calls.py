"""The sandbox's call log: every call it plays, as Twilio's Call resource, for ``GET …/Calls.json``.

A caller's call to a tenant number is a parent call (``inbound``, "completed" once over: Twilio itself answered it
to play our TwiML) with one ``outbound-dial`` child leg per ``<Dial>``, whose status says whether a person picked up.
A call placed from a tenant number (a staff callback through Twilio) is one ``outbound-api`` call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.sandbox.state import API_VERSION, rfc2822


@dataclass
class Call:
    sid: str
    account_sid: str
    from_: str
    to: str
    status: str
    direction: str
    start_time: datetime
    duration: int
    parent_call_sid: str | None = None

    def resource(self) -> dict[str, Any]:
        """Twilio's Call resource JSON (the fields the SDK's CallInstance reads)."""
        end = self.start_time + timedelta(seconds=self.duration)
        over = self.status not in ("queued", "ringing", "in-progress")
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "parent_call_sid": self.parent_call_sid,
            "from": self.from_,
            "from_formatted": self.from_,
            "to": self.to,
            "to_formatted": self.to,
            "status": self.status,
            "direction": self.direction,
            "start_time": rfc2822(self.start_time),
            "end_time": rfc2822(end) if over else None,
            "duration": str(self.duration) if over else None,
            "date_created": rfc2822(self.start_time),
            "date_updated": rfc2822(end if over else self.start_time),
            "answered_by": None,
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json",
            "subresource_uris": {},
        }


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def update(self, sid: str, *, status: str, duration: int | None = None) -> None:
        with self._lock:
            for call in self._calls:
                if call.sid == sid:
                    call.status = status
                    if duration is not None:
                        call.duration = duration

    def find(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        parent_call_sid: str | None = None,
        status: str | None = None,
        started_after: datetime | None = None,
    ) -> list[Call]:
        """Twilio's list semantics: newest first; ``StartTime>`` compares the start date (a time is allowed)."""
        with self._lock:
            calls = list(reversed(self._calls))
        return [
            call
            for call in calls
            if (to is None or call.to == to)
            and (from_ is None or call.from_ == from_)
            and (parent_call_sid is None or call.parent_call_sid == parent_call_sid)
            and (status is None or call.status == status)
            and (started_after is None or call.start_time.date() >= started_after.astimezone(UTC).date())
        ]


def parse_start_time(raw: str) -> datetime:
    """``StartTime>`` as the SDK sends it: a date (``2026-12-01``) or an ISO 8601 time."""
    text = raw.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text if "T" in text else f"{text}T00:00:00+00:00")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
