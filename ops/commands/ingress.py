"""`nmc ingress`: the Falcon webhook front door under gunicorn (gthread workers)."""

from __future__ import annotations

import tempfile
from typing import Any

import click

from ops.context import get_settings
from ops.preflight import require_free_address, require_services
from ops.runtime import ArbiterHeartbeat, configure_process


@click.command()
@click.option("--bind", default=None, metavar="HOST:PORT", help="Default: INGRESS_BIND (127.0.0.1:8000).")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=None, help="Default: INGRESS_WORKERS.")
@click.option("--threads", "-t", type=click.IntRange(1, 256), default=None, help="Default: INGRESS_THREADS.")
@click.pass_context
def ingress(ctx: click.Context, bind: str | None, workers: int | None, threads: int | None) -> None:
    """Serve the webhooks, API, health and readiness routes until stopped (and /metrics on INGRESS_METRICS_BIND)."""
    from db.metrics import mark_process_dead
    from ingress.app import create_app
    from ops.serve import serve

    settings = get_settings(ctx)
    require_services(settings)
    require_free_address(bind or settings.ingress_bind)
    threads = threads or settings.ingress_threads
    # Every thread may hold a database connection; the pool is sized from the thread count actually served.
    settings = settings.model_copy(update={"ingress_threads": threads})
    if not settings.prometheus_multiproc_dir:
        # The arbiter serves /metrics as the sum of its workers' sample files: it needs a directory for them.
        settings = settings.model_copy(update={"prometheus_multiproc_dir": tempfile.mkdtemp(prefix="nmc-metrics-")})
    hooks = configure_process(settings, "ingress")
    heartbeat = ArbiterHeartbeat(hooks)

    def when_ready(server: Any) -> None:
        hooks.serve_metrics(settings.ingress_metrics_bind)  # its own bind: never the public webhook port
        heartbeat.when_ready(server)

    serve(
        lambda: create_app(settings),
        bind=bind or settings.ingress_bind,
        workers=workers or settings.ingress_workers,
        threads=threads,
        name="nmc-ingress",
        log_level=settings.log_level,
        # A dead worker's live gauges must not be summed forever by the multiprocess collector.
        child_exit=lambda server, worker: mark_process_dead(settings, "ingress", worker.pid),
        when_ready=when_ready,
        on_exit=heartbeat.on_exit,
    )
