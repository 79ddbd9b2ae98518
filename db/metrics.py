"""Every Prometheus metric of NeverMissCall, defined in this one place so code, dashboards and alert rules agree.

All layers may import it (``db`` is the bottom layer). Processes that fork (gunicorn, Dramatiq) run
prometheus_client in *multiprocess mode*: each child writes its samples to mmap files in a directory per process
kind (``<PROMETHEUS_MULTIPROC_DIR>/<process>``) and whoever serves ``/metrics`` sums the files. One directory per
process kind, not one shared directory, so the ingress and the worker never export each other's samples (Prometheus
would count them twice).

Call order in a process that forks: ``reset_multiprocess_dir`` in the parent before forking, then
``configure_multiprocess`` (parent or child, before the first sample is recorded); ``mark_process_dead`` when a
child exits. Single-process programs need none of it and can serve ``render_metrics`` straight from the default
registry.
"""

from __future__ import annotations

import os
import platform
import shutil
import threading
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import DeadLetter, OutboxEvent
from db.settings import Settings

# Resolves both the 50 ms that a healthy pipeline achieves and the 5 s SLO boundary (``le="5"`` is a bucket edge, so
# "fraction slower than 5 s" is exact, not interpolated).
FIRST_SMS_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.4, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SLO_FIRST_SMS_SECONDS = 5.0

FIRST_SMS_LATENCY = Histogram(
    "nmc_first_sms_latency_seconds",
    "Missed call to first SMS accepted by the provider (Twilio queued); the SLO is P95 <= 5 s.",
    buckets=FIRST_SMS_BUCKETS,
)
WEBHOOKS = Counter(
    "nmc_webhooks_total",
    "Provider webhooks by provider, kind and outcome (accepted|duplicate|forged|unroutable|malformed|ignored).",
    ["provider", "kind", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "nmc_outbox_pending",
    "Outbox events not yet dispatched.",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "nmc_outbox_oldest_age_seconds",
    "Age of the oldest undispatched outbox event (0 when none): the outbox lag.",
    multiprocess_mode="mostrecent",
)
OUTBOX_DISPATCHED = Counter("nmc_outbox_dispatched_total", "Outbox events dispatched (fanned out to deliveries).")
DELIVERIES = Counter(
    "nmc_deliveries_total",
    "Handler deliveries by outcome: done, retry, dead, skipped.",
    ["handler", "outcome"],
)
DELIVERY_RETRIES = Counter("nmc_delivery_retries_total", "Delivery attempts scheduled for retry.", ["handler"])
DELIVERY_GROUP_FALLBACKS = Counter(
    "nmc_delivery_group_fallbacks_total",
    "Groups of db_only deliveries rolled back because one failed, then run one transaction each.",
)
DLQ_SIZE = Gauge("nmc_dlq_size", "Dead letters not yet replayed.", multiprocess_mode="mostrecent")
MESSAGES = Counter("nmc_messages_total", "SMS messages by status reached (in and out).", ["status"])
PROVIDER_ERRORS = Counter(
    "nmc_provider_errors_total", "Provider errors by provider and error code.", ["provider", "code"]
)
HOLDS = Counter("nmc_holds_total", "Hold attempts by outcome (placed, conflict, expired, confirmed).", ["outcome"])
APPOINTMENTS = Counter(
    "nmc_appointments_total", "Booking attempts by outcome (booked, conflict, cancelled, rescheduled).", ["outcome"]
)
AI_TURNS = Counter(
    "nmc_ai_turns_total",
    "Conversation-engine turns by engine and outcome: replied, guard_blocked, fallback, handoff.",
    ["engine", "outcome"],
)
HANDLER_DURATION = Histogram(
    "nmc_handler_duration_seconds", "Time spent inside a domain handler.", ["handler"], buckets=HANDLER_BUCKETS
)
INGRESS_REQUEST_LATENCY = Histogram(
    "nmc_ingress_request_seconds",
    "Ingress request latency from Falcon's view, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)
COMMIT_TO_HANDLER = Histogram(
    "nmc_commit_to_handler_seconds",
    "Outbox commit to handler start: the pipeline's own latency.",
    buckets=FIRST_SMS_BUCKETS,
)

BUILD_INFO = Gauge(
    "nmc_build_info",
    "Always 1; the labels say which release and Python this process runs.",
    ["version", "python"],
    multiprocess_mode="max",
)

ALL_METRICS: tuple[Any, ...] = (
    FIRST_SMS_LATENCY,
    WEBHOOKS,
    OUTBOX_PENDING,
    OUTBOX_OLDEST_AGE,
    OUTBOX_DISPATCHED,
    DELIVERIES,
    DELIVERY_RETRIES,
    DELIVERY_GROUP_FALLBACKS,
    DLQ_SIZE,
    MESSAGES,
    PROVIDER_ERRORS,
    HOLDS,
    APPOINTMENTS,
    AI_TURNS,
    HANDLER_DURATION,
    INGRESS_REQUEST_LATENCY,
    COMMIT_TO_HANDLER,
    BUILD_INFO,
)


def record_build_info() -> None:
    """Set ``nmc_build_info`` (again after a switch to multiprocess mode, which drops every labelled sample)."""
    try:
        version = metadata.version("nevermisscall")
    except metadata.PackageNotFoundError:
        version = "unknown"
    BUILD_INFO.labels(version=version, python=platform.python_version()).set(1)


def exported_names() -> set[str]:
    """Every sample name these metrics can export (``_total``, ``_bucket``, ``_sum``, ``_count`` included)."""
    names: set[str] = set()
    for metric in ALL_METRICS:
        for family in metric.describe():
            names.add(family.name)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            else:
                names.add(family.name)
    return names


# --- multiprocess mode ------------------------------------------------------------------------------------------


def multiprocess_dir(settings: Settings, process_name: str) -> Path | None:
    if not settings.prometheus_multiproc_dir:
        return None
    return Path(settings.prometheus_multiproc_dir) / process_name


def reset_multiprocess_dir(settings: Settings, process_name: str) -> Path | None:
    """Empty this process kind's sample directory; the parent calls it once before forking (stale pids' files would
    otherwise be summed forever)."""
    path = multiprocess_dir(settings, process_name)
    if path is None:
        return None
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_multiprocess(settings: Settings, process_name: str) -> Path | None:
    """Switch prometheus_client to multiprocess mode for this process kind (no-op without the setting).

    prometheus_client picks its value class from the environment when it is first imported, so this sets the variable
    (children inherit it; Dramatiq's own Prometheus middleware reads it too) and re-creates the values of the metrics
    above, which were built before the switch.
    """
    path = multiprocess_dir(settings, process_name)
    if path is None:
        return None
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # Dramatiq's Prometheus middleware keeps its own variable for the same directory.
    os.environ["dramatiq_prom_db"] = str(path)  # noqa: SIM112 (dramatiq reads this exact lower-case name)
    values.ValueClass = values.MultiProcessValue()
    for metric in ALL_METRICS:
        if metric._labelnames:
            with metric._lock:
                metric._metrics.clear()
        else:
            metric._metric_init()
    record_build_info()
    return path


def mark_process_dead(settings: Settings, process_name: str, pid: int) -> None:
    """Drop a dead child's live gauges (gunicorn ``child_exit`` hook, Dramatiq worker shutdown)."""
    path = multiprocess_dir(settings, process_name)
    if path is not None and path.exists():
        multiprocess.mark_process_dead(pid, str(path))


def render_metrics(settings: Settings | None = None, process_name: str | None = None) -> tuple[bytes, str]:
    """The /metrics response body and content type: the sum over every child in multiprocess mode, else this
    process's default registry."""
    path = multiprocess_dir(settings, process_name) if settings is not None and process_name else None
    if path is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(path))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_wsgi_app(settings: Settings | None = None, process_name: str | None = None) -> Any:
    """A bare WSGI app serving :func:`render_metrics` (for processes without an HTTP front of their own)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body, content_type = render_metrics(settings, process_name)
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every 15 s would drown the logs
        return


def start_metrics_server(
    bind: str, settings: Settings | None = None, process_name: str | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics on ``HOST:PORT`` from a daemon thread (dispatcher, scheduler); returns the server to stop."""
    host, _, port = bind.rpartition(":")
    server = make_server(
        host or "127.0.0.1", int(port), metrics_wsgi_app(settings, process_name), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name=f"metrics-{process_name or 'nmc'}", daemon=True)
    thread.start()
    return server, thread


# --- gauges computed from the database --------------------------------------------------------------------------


def refresh_pipeline_gauges(session: Session, now: datetime | None = None) -> dict[str, float]:
    """Set the outbox and DLQ gauges from the tables (the scheduler calls this every few seconds)."""
    now = now or datetime.now(UTC)
    pending, oldest = session.execute(
        select(func.count(), func.min(OutboxEvent.created_at)).where(OutboxEvent.dispatched_at.is_(None))
    ).one()
    dlq = session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None))) or 0
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    OUTBOX_PENDING.set(pending)
    OUTBOX_OLDEST_AGE.set(age)
    DLQ_SIZE.set(dlq)
    return {"outbox_pending": float(pending), "outbox_oldest_age_seconds": age, "dlq_size": float(dlq)}


record_build_info()
