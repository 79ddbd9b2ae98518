"""`nmc bench …`: benchmarks print figures and write a report under bench/results/ (never timed tests)."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Benchmarks: figures (P50/P95/P99) on stdout and a report file under bench/results/."""


def _register() -> None:
    # Each benchmark lives in ops/bench/<name>.py and exposes a click command named `command`.
    from importlib import import_module

    for name in ("outbox", "outbox-history", "ingress", "availability", "e2e", "api", "reminders"):
        bench.add_command(import_module(f"ops.bench.{name.replace('-', '_')}").command, name)


_register()
