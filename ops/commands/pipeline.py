"""`nmc dispatcher`, `nmc worker` and `nmc scheduler`: the worker-side processes."""

from __future__ import annotations

import click

from ops.context import get_settings
from ops.preflight import require_broker, require_postgres, require_services
from ops.runtime import configure_process


@click.command()
@click.pass_context
def dispatcher(ctx: click.Context) -> None:
    """Run the outbox dispatcher (LISTEN/NOTIFY, polling fallback, retry redriver)."""
    from workers.processes import run_dispatcher

    settings = get_settings(ctx)
    require_services(settings)
    require_broker(settings)
    hooks = configure_process(settings, "dispatcher")
    hooks.serve_metrics(settings.dispatcher_metrics_bind)
    run_dispatcher(settings, on_tick=hooks.on_tick)
    hooks.on_exit()


@click.command()
@click.option("--processes", "-p", type=click.IntRange(1, 64), default=None, help="Default: WORKER_PROCESSES.")
@click.option("--threads", "-t", type=click.IntRange(1, 256), default=None, help="Default: WORKER_THREADS.")
@click.option("--queues", "-Q", multiple=True, help="Only these module queues (repeatable). Default: all.")
@click.pass_context
def worker(ctx: click.Context, processes: int | None, threads: int | None, queues: tuple[str, ...]) -> None:
    """Run the Dramatiq worker pool (one queue per module)."""
    from workers.processes import run_worker

    settings = get_settings(ctx)
    require_services(settings)
    require_broker(settings)
    hooks = configure_process(settings, "worker")
    hooks.serve_metrics(settings.worker_metrics_bind)
    run_worker(
        settings,
        processes=processes or settings.worker_processes,
        threads=threads or settings.worker_threads,
        queues=queues,
        on_tick=hooks.on_tick,
    )
    hooks.on_exit()


@click.command()
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Run periodic jobs (hold expiry, takeover leases, provider polling, gauges, retention)."""
    from ops.jobs import build_scheduler

    settings = get_settings(ctx)
    require_postgres(settings)  # its jobs are SQL; Redis only carries its heartbeat, which tolerates an outage
    hooks = configure_process(settings, "scheduler")
    hooks.serve_metrics(settings.scheduler_metrics_bind)
    build_scheduler(settings).run(on_tick=hooks.on_tick)
    hooks.on_exit()
