"""A worker opens its connections before its first message (so the first deliveries after a start do not pay for
them), touching nothing, and a database that is not there yet only costs a warning."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from db.engine import make_engine
from db.settings import Settings
from workers.bootstrap import build_worker_runtime


def _worker_backends_and_deliveries(settings: Settings) -> tuple[int, int]:
    probe = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-test-probe")
    try:
        with probe.connect() as conn:
            backends = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'nmc-worker'"
                )
            ).scalar_one()
            deliveries = conn.execute(text("SELECT count(*) FROM outbox_deliveries")).scalar_one()
    finally:
        probe.dispose()
    return backends, deliveries


def test_warm_up_leaves_that_many_open_connections_in_the_pool_and_writes_nothing(settings: Settings) -> None:
    runtime, runner = build_worker_runtime(
        settings.model_copy(update={"handler_modules": ("ops.bench.outbox_handlers",)})
    )
    try:
        runner.warm_up(3)
        assert runtime.engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        assert runtime.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert _worker_backends_and_deliveries(settings) == (3, 0)
    finally:
        runtime.broker.close()
        runtime.engine.dispose()


def test_warm_up_without_a_database_only_warns(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = settings.model_copy(
        update={
            "database_url": "postgresql://postgres@127.0.0.1:1/nmc",
            "handler_modules": ("ops.bench.outbox_handlers",),
        }
    )
    runtime, runner = build_worker_runtime(unreachable)
    try:
        with caplog.at_level(logging.WARNING, logger="nmc.worker"):
            runner.warm_up(2)
        assert "could not open the worker's connections ahead of its first delivery" in caplog.text
        assert runtime.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        runtime.broker.close()
        runtime.engine.dispose()
