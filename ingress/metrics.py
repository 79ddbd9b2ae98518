"""Ingress metrics, defined in ``db.metrics`` (the one place every metric lives), exposed on ``GET /metrics``."""

from __future__ import annotations

import falcon

from db.metrics import INGRESS_REQUEST_LATENCY as REQUEST_LATENCY
from db.metrics import WEBHOOKS, render_metrics
from db.settings import Settings

OUTCOMES = ("accepted", "duplicate", "forged", "unroutable", "malformed", "ignored")

__all__ = ["OUTCOMES", "REQUEST_LATENCY", "WEBHOOKS", "MetricsResource", "count_webhook"]


def count_webhook(provider: str, kind: str, outcome: str) -> None:
    WEBHOOKS.labels(provider, kind, outcome).inc()


class MetricsResource:
    """With PROMETHEUS_MULTIPROC_DIR set, the sum over every gunicorn worker; else this process's registry."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body, content_type = render_metrics(self._settings, "ingress")
        resp.content_type = content_type
        resp.data = body
