"""Each test's own database, cloned from the migrated template one test ahead.

``CREATE DATABASE … TEMPLATE`` costs a few hundred milliseconds of the database server's time (one file per relation,
some five hundred of them, each written and synced); done when a test asks for its database, that time was spent
waiting, and over a thousand tests it was minutes. A single thread of its own makes the next test's clone while the
current test runs, and drops each finished test's database behind it, so on two cores the clone overlaps the test.
One thread keeps the order simple: the drops and creates run one at a time, in the order they were asked for.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql


class DatabaseSupply:
    def __init__(self, server: str, template: str) -> None:
        self._server = server
        self._template = template
        self._names = (f"nmc_t_{os.getpid()}_{n}" for n in itertools.count())
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        """A fresh clone of the template (its name), and the next one started."""
        ready = self._next or self._thread.submit(self._create, next(self._names))
        self._next = self._thread.submit(self._create, next(self._names))
        return ready.result()

    def give_back(self, name: str) -> None:
        """Drop ``name`` (with any connection a test left open) once the thread gets to it."""
        self._drops.append(self._thread.submit(self._drop, name))

    def close(self) -> None:
        """Drop the clone made for a test that never came, wait for every drop, and raise the first that failed."""
        if self._next is not None:
            name = self._next.result()
            self.give_back(name)
        self._thread.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
        for dropped in self._drops:
            dropped.result()

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(f"{self._server}/postgres", autocommit=True)
        return self._conn

    def _create(self, name: str) -> str:
        conn = self._connection()
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(self._template))
        )
        return name

    def _drop(self, name: str) -> None:
        self._connection().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
