"""Ingress metrics. One process-wide registry (prometheus_client's default), exposed on ``GET /metrics``."""

from __future__ import annotations

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

OUTCOMES = ("accepted", "duplicate", "forged", "unroutable", "malformed", "ignored")

WEBHOOKS = Counter(
    "nmc_webhooks_total",
    "Provider webhooks by provider, kind and outcome (accepted|duplicate|forged|unroutable|malformed|ignored).",
    ["provider", "kind", "outcome"],
)

REQUEST_LATENCY = Histogram(
    "nmc_ingress_request_seconds",
    "Ingress request latency from Falcon's view, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)


def count_webhook(provider: str, kind: str, outcome: str) -> None:
    WEBHOOKS.labels(provider, kind, outcome).inc()


class MetricsResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(REGISTRY)
