"""Stripe webhooks: verified on the raw bytes by the hook, then one ``StripeEventReceived`` per Stripe event id.

The tenant is unknown here (billing resolves it from the customer), so the event carries ``tenant_id`` None.
"""

from __future__ import annotations

import re
from typing import Any

import falcon

from domain.events.catalog import StripeEventReceived
from ingress.errors import malformed
from ingress.metrics import count_webhook
from ingress.recording import Delivery, WebhookRecorder
from ingress.verification import StripeVerifier, scrub_json, stripe_signature

PROVIDER = "stripe"
_EVENT_ID = re.compile(r"^evt_[0-9A-Za-z_]{1,255}$")
_EVENT_TYPE = re.compile(r"^[a-z0-9_.]{1,200}$")


class StripeWebhookResource:
    kind = "stripe"

    def __init__(self, recorder: WebhookRecorder, verifier: StripeVerifier) -> None:
        self.recorder = recorder
        self.stripe_verifier = verifier

    @falcon.before(stripe_signature)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        document: dict[str, Any] = scrub_json(req.context.stripe_event)
        event = _parse_event(document)
        outcome, _route = self.recorder.record(
            Delivery(PROVIDER, event.stripe_event_id, event.type, document),
            number=None,
            events=[event],
            correlation_id=req.context.correlation_id,
            routed=False,
        )
        count_webhook(PROVIDER, self.kind, outcome)
        resp.status = falcon.HTTP_200
        resp.set_header("X-Webhook-Outcome", outcome)
        resp.media = {"received": True, "outcome": outcome}


def _parse_event(document: dict[str, Any]) -> StripeEventReceived:
    event_id = document.get("id")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise malformed("id is missing or not a Stripe event id (evt_…)")
    event_type = document.get("type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise malformed("type is missing or not a Stripe event type")
    created = document.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < 2**53:
        raise malformed("created is missing or not a Unix timestamp")
    livemode = document.get("livemode", False)
    if not isinstance(livemode, bool):
        raise malformed("livemode is not a boolean")
    data = document.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if not isinstance(data_object, dict):
        raise malformed("data.object is missing or not an object")
    return StripeEventReceived(
        stripe_event_id=event_id, type=event_type, created=created, livemode=livemode, data_object=data_object
    )
