"""`nmc ingress`: the Falcon webhook front door under gunicorn (gthread workers)."""

from __future__ import annotations

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
    """Serve the webhooks, health, readiness and metrics routes until stopped."""
    from db.metrics import mark_process_dead
    from ingress.app import create_app
    from ops.serve import serve

    settings = get_settings(ctx)
    require_services(settings)
    require_free_address(bind or settings.ingress_bind)
    threads = threads or settings.ingress_threads
    # Every thread may hold a database connection; the pool is sized from the thread count actually served.
    settings = settings.model_copy(update={"ingress_threads": threads})
    heartbeat = ArbiterHeartbeat(configure_process(settings, "ingress"))
    serve(
        lambda: create_app(settings),
        bind=bind or settings.ingress_bind,
        workers=workers or settings.ingress_workers,
        threads=threads,
        name="nmc-ingress",
        log_level=settings.log_level,
        # A dead worker's live gauges must not be summed forever by the multiprocess collector.
        child_exit=lambda server, worker: mark_process_dead(settings, "ingress", worker.pid),
        when_ready=heartbeat.when_ready,
        on_exit=heartbeat.on_exit,
    )
