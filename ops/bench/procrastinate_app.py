"""The procrastinate side of `nmc bench outbox --compare procrastinate`: one task that records when it started.

The bench-only ``bench-compare`` extra provides procrastinate; nothing but the comparison imports this module. The
task writes its start exactly as the outbox bench handler does (``clock_timestamp()`` into ``bench_handler_starts``,
by event id), so both systems are measured from the producer's commit to the same kind of write.
"""

from __future__ import annotations

from typing import Any

from procrastinate import App, JobContext
from procrastinate.connector import BaseConnector

QUEUE = "nmc_bench"
TASK_NAME = "nmc_bench_record_start"
_RECORD_START = "INSERT INTO bench_handler_starts VALUES (%(event_id)s::uuid, extract(epoch FROM clock_timestamp()))"


def make_app(connector: BaseConnector) -> App:
    app = App(connector=connector)

    @app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)
    async def record_start(context: JobContext, event_id: str) -> None:
        # Autocommitted, on a connection of the worker's own pool: a job is one transaction of procrastinate's
        # (fetch), this INSERT, and another (finish).
        await context.app.connector.execute_query_async(_RECORD_START, event_id=event_id)

    return app


def record_start_task(app: App) -> Any:
    return app.tasks[TASK_NAME]
