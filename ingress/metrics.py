"""Ingress metrics, defined in ``db.metrics`` (the one place every metric lives).

They are exposed on ``GET /metrics`` of INGRESS_METRICS_BIND, served by the gunicorn arbiter from every worker's
sample files (``nmc ingress``), not on the public webhook port."""

from __future__ import annotations

from db.metrics import INGRESS_REQUEST_LATENCY as REQUEST_LATENCY
from db.metrics import WEBHOOKS

OUTCOMES = ("accepted", "duplicate", "forged", "unroutable", "malformed", "ignored")

__all__ = ["OUTCOMES", "REQUEST_LATENCY", "WEBHOOKS", "count_webhook"]


def count_webhook(provider: str, kind: str, outcome: str) -> None:
    WEBHOOKS.labels(provider, kind, outcome).inc()
