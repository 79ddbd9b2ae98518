"""What the sandbox remembers: messages, the carrier block list and armed faults, behind one lock.

The sandbox runs as ONE gunicorn worker with many threads, so a plain lock is enough to keep this state
consistent; nothing here does I/O.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, Literal

API_VERSION = "2010-04-01"

# Twilio's own keyword lists for its carrier-level opt-out (Advanced Opt-Out defaults).
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

CallbackMode = Literal["normal", "drop", "duplicate", "reorder"]
FinalStatus = Literal["delivered", "undelivered", "failed"]

# Characters of the GSM 03.38 basic set, and the extension set that costs two septets each.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment.astimezone(UTC))


def num_segments(body: str) -> int:
    """Segments as a carrier counts them: GSM-7 (160, or 153 per part) unless any character forces UCS-2."""
    if not body:
        return 1
    septets = 0
    for char in body:
        if char in _GSM_BASIC:
            septets += 1
        elif char in _GSM_EXTENDED:
            septets += 2
        else:
            units = len(body.encode("utf-16-le")) // 2
            return 1 if units <= 70 else -(-units // 67)
    return 1 if septets <= 160 else -(-septets // 153)


@dataclass
class Message:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    direction: Literal["outbound-api", "inbound"]
    status: str
    media_urls: list[str]
    status_callback: str | None
    created_at: datetime
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """Twilio's Message resource JSON, field for field."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created_at),
            "date_sent": rfc2822(self.sent_at),
            "date_updated": rfc2822(self.updated_at or self.created_at),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": str(len(self.media_urls)),
            "num_segments": str(num_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json",
                "feedback": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}/Feedback.json",
            },
            "to": self.to,
            "uri": self.uri,
        }

    def record(self) -> dict[str, Any]:
        """The sandbox's own view: everything a test or the demo wants, with ISO timestamps."""
        return {
            "sid": self.sid,
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "num_segments": num_segments(self.body),
            "status": self.status,
            "error_code": self.error_code,
            "status_callback": self.status_callback,
            "created_at": self.created_at.isoformat(),
            "updated_at": (self.updated_at or self.created_at).isoformat(),
            "status_history": [{"status": status, "at": at.isoformat()} for status, at in self.history],
        }


@dataclass(frozen=True)
class SendFault:
    """A failing send, or with ``http_status`` None a slow one that then succeeds (a request in flight)."""

    http_status: int | None
    code: int
    message: str
    latency_ms: int = 0


@dataclass(frozen=True)
class FinalStatusFault:
    status: FinalStatus
    error_code: int


_FAULT_MESSAGES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_ERROR_MESSAGES = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}

_RANK = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4}


class FaultError(ValueError):
    """A fault document the sandbox does not understand (answered with 400)."""


class SandboxState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, Message] = {}
        self._order: list[str] = []
        self._blocked: set[tuple[str, str]] = set()  # (caller, tenant number) pairs that texted STOP
        self._send_faults: list[SendFault] = []
        self._final_faults: list[FinalStatusFault] = []
        self._callback_mode: CallbackMode = "normal"

    # messages -------------------------------------------------------------------------------------------------
    def add(self, message: Message) -> None:
        with self._lock:
            message.history.append((message.status, message.created_at))
            self._messages[message.sid] = message
            self._order.append(message.sid)

    def get(self, sid: str) -> Message | None:
        with self._lock:
            return self._messages.get(sid)

    def advance(self, sid: str, status: str, *, error_code: int | None = None) -> Message | None:
        """Move a message forward (never backwards); returns the message if its status changed."""
        now = datetime.now(UTC)
        with self._lock:
            message = self._messages.get(sid)
            if message is None or _RANK.get(status, 0) <= _RANK.get(message.status, 0):
                return None
            message.status = status
            message.updated_at = now
            if status == "sent":
                message.sent_at = now
            if error_code is not None:
                message.error_code = error_code
                message.error_message = _ERROR_MESSAGES.get(error_code, "Delivery failed")
            message.history.append((status, now))
            return message

    def messages(
        self, *, to: str | None = None, from_: str | None = None, since: datetime | None = None
    ) -> list[Message]:
        """Oldest first."""
        with self._lock:
            found = [self._messages[sid] for sid in self._order]
        return [
            m
            for m in found
            if (to is None or m.to == to)
            and (from_ is None or m.from_ == from_)
            and (since is None or m.created_at > since)
        ]

    def provider_list(
        self, *, to: str | None, from_: str | None, on: date | None, before: date | None, after: date | None
    ) -> list[Message]:
        """Twilio's list semantics: newest first, DateSent filters by the sent date (unsent messages drop out)."""
        chosen = []
        for message in reversed(self.messages(to=to, from_=from_)):
            if on or before or after:
                if message.sent_at is None:
                    continue
                sent = message.sent_at.date()
                if (on and sent != on) or (before and sent > before) or (after and sent < after):
                    continue
            chosen.append(message)
        return chosen

    def clear_messages(self) -> int:
        with self._lock:
            count = len(self._order)
            self._messages.clear()
            self._order.clear()
            return count

    # carrier block list -------------------------------------------------------------------------------------
    def block(self, caller: str, number: str) -> None:
        with self._lock:
            self._blocked.add((caller, number))

    def unblock(self, caller: str, number: str) -> None:
        with self._lock:
            self._blocked.discard((caller, number))

    def is_blocked(self, caller: str, number: str) -> bool:
        with self._lock:
            return (caller, number) in self._blocked

    # faults ------------------------------------------------------------------------------------------------
    def arm(self, document: dict[str, Any]) -> None:
        """Apply a fault document; see ``faults()`` for the shape. Raises FaultError on nonsense."""
        send = document.get("send")
        callbacks = document.get("callbacks")
        final = document.get("final_status")
        if send is None and callbacks is None and final is None:
            raise FaultError("expected one of: send, callbacks, final_status")
        send_faults: list[SendFault] = []
        if send is not None:
            if not isinstance(send, dict):
                raise FaultError("send must be an object")
            count = _int(send.get("count", 1), "send.count", 1, 100_000)
            latency_ms = _int(send.get("latency_ms", 0), "send.latency_ms", 0, 60_000)
            if "http_status" not in send and latency_ms:
                send_faults = [SendFault(None, 0, "slow", latency_ms)] * count
            else:
                http_status = _int(send.get("http_status", 500), "send.http_status", 400, 599)
                code = _int(send.get("code", 20000 + http_status), "send.code", 1, 99_999)
                message = str(send.get("message") or _FAULT_MESSAGES.get(http_status, "Sandbox fault"))
                send_faults = [SendFault(http_status, code, message, latency_ms)] * count
        if callbacks is not None and callbacks not in ("normal", "drop", "duplicate", "reorder"):
            raise FaultError("callbacks must be one of normal, drop, duplicate, reorder")
        final_faults: list[FinalStatusFault] = []
        if final is not None:
            if final not in ("undelivered", "failed"):
                raise FaultError("final_status must be undelivered or failed")
            error_code = _int(document.get("error_code", 30003), "error_code", 30001, 39_999)
            count = _int(document.get("count", 1), "count", 1, 100_000)
            final_faults = [FinalStatusFault(final, error_code)] * count
        with self._lock:
            self._send_faults.extend(send_faults)
            self._final_faults.extend(final_faults)
            if callbacks is not None:
                self._callback_mode = callbacks

    def reset_faults(self) -> None:
        with self._lock:
            self._send_faults.clear()
            self._final_faults.clear()
            self._callback_mode = "normal"

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return {
                "send_pending": len(self._send_faults),
                "next_send": None if not self._send_faults else vars(self._send_faults[0]),
                "final_status_pending": len(self._final_faults),
                "callbacks": self._callback_mode,
            }

    def take_send_fault(self) -> SendFault | None:
        with self._lock:
            return self._send_faults.pop(0) if self._send_faults else None

    def take_final_fault(self) -> FinalStatusFault | None:
        with self._lock:
            return self._final_faults.pop(0) if self._final_faults else None

    @property
    def callback_mode(self) -> CallbackMode:
        with self._lock:
            return self._callback_mode


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"{name} must be an integer in [{low}, {high}]")
    return value
