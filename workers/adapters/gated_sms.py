"""The only holder of the Twilio gateway in a handler's reach: the conversations module's ``SmsSender`` port.

Nothing leaves without the compliance gate's sealed ``Decision``; provider failures become ``SendFailed``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from db.settings import Settings
from domain.compliance import gate as compliance_gate
from domain.conversations.ports import Accepted, PreflightDecision, SendFailed, SentEarlier
from domain.events.envelope import CORRELATION_PARAM
from workers.adapters.twilio_gateway import ProviderError, TwilioGateway


class GatedSmsSender:
    """The only holder of the Twilio gateway in a handler's reach; nothing leaves without the gate's Decision."""

    def __init__(self, gateway: TwilioGateway, settings: Settings) -> None:
        self._gateway = gateway
        self._status_callback = f"{settings.public_base_url}/webhooks/twilio/sms/status"

    def send(
        self,
        decision: PreflightDecision,
        *,
        tenant_id: uuid.UUID,
        to: str,
        from_: str,
        body: str,
        correlation_id: uuid.UUID | None = None,
    ) -> Accepted:
        compliance_gate.require_allowed(decision, tenant_id=tenant_id, to_number=to)
        try:
            sent = self._gateway.send(to=to, from_=from_, body=body, status_callback=self._callback_for(correlation_id))
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=error.retryable, opted_out=error.opted_out) from error
        return Accepted(sid=sent.sid, status=sent.status, num_segments=sent.num_segments)

    def _callback_for(self, correlation_id: uuid.UUID | None) -> str:
        # The chain rides in the callback's URL, which Twilio signs with the body: the ingress can trust it, and each
        # status report joins its message's chain without the ingress knowing anything about messages.
        if correlation_id is None:
            return self._status_callback
        return f"{self._status_callback}?{CORRELATION_PARAM}={correlation_id}"

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SentEarlier | None:
        # No DateSent filter: a message still queued at the provider has no date_sent yet.
        try:
            messages = self._gateway.list_messages(to=to, from_=from_)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=True) from error
        for message in messages:
            created = message.date_created
            if message.body == body and (created is None or created >= since - timedelta(seconds=1)):
                return SentEarlier(sid=message.sid, status=message.status)
        return None

    def list_sent(self, *, from_: str, since: datetime) -> list[tuple[str, str, int | None]]:
        try:
            messages = self._gateway.list_messages(from_=from_)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=True) from error
        return [
            (m.sid, m.status, m.error_code)
            for m in messages
            if (m.direction or "").startswith("outbound") and (m.date_created is None or m.date_created >= since)
        ]

    def fetch_status(self, sid: str) -> tuple[str, int | None]:
        try:
            message = self._gateway.fetch(sid)
        except ProviderError as error:
            raise SendFailed(error.code, str(error), retryable=error.retryable) from error
        return message.status, message.error_code
