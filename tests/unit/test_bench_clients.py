"""The ingress bench's client threads: a client that cannot start stops the level instead of hanging it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import pytest

from ops.bench.ingress import _run_clients


def test_a_client_that_cannot_start_stops_the_level_with_its_error() -> None:
    started = itertools.count()
    lock = threading.Lock()

    @contextmanager
    def make_worker() -> Iterator[Callable[[int], bool]]:
        with lock:
            index = next(started)
        if index == 3:
            raise OSError("FATAL:  sorry, too many clients already")
        yield lambda request: True

    with pytest.raises(click.ClickException, match=r"1 of 8 clients could not run: FATAL:  sorry, too many clients"):
        _run_clients(8, 1000, 5.0, make_worker)


def test_clients_share_the_request_budget_and_each_closes_its_resource() -> None:
    closed: list[int] = []

    @contextmanager
    def make_worker() -> Iterator[Callable[[int], bool]]:
        yield lambda request: request % 10 != 0  # every tenth request fails
        closed.append(1)

    result = _run_clients(4, 200, 30.0, make_worker)

    assert result.completed == 200
    assert result.errors == 20
    assert len(closed) == 4
