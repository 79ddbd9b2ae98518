"""Each test's own database, cloned from the migrated template a few tests ahead.

``CREATE DATABASE … TEMPLATE`` costs a few hundred milliseconds of the database server's time, and up to a second on
a busy box (one file per relation, some five hundred of them, each written and synced); done when a test asks for
its database, that time was spent waiting, and over a thousand tests it was minutes. Two threads keep a few clones
ready while tests run (the server overlaps one clone's syncs with another's writes), and a third drops each finished
test's database behind it, so a test waits only when a run of quick database tests outpaces both.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql

READY_AHEAD = 3


class DatabaseSupply:
    def __init__(self, server: str, template: str) -> None:
        self._server = server
        self._template = template
        self._names = (f"nmc_t_{os.getpid()}_{n}" for n in itertools.count())
        self._creators = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-databases-create")
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases-drop")
        self._local = threading.local()
        self._connections: list[psycopg.Connection[tuple[object, ...]]] = []
        self._lock = threading.Lock()
        self._ready: collections.deque[Future[str]] = collections.deque()
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        """A fresh clone of the template (its name); the clones after it are started."""
        while len(self._ready) < READY_AHEAD + 1:
            self._ready.append(self._creators.submit(self._create, next(self._names)))
        return self._ready.popleft().result()

    def give_back(self, name: str) -> None:
        """Drop ``name`` (with any connection a test left open) once the dropping thread gets to it."""
        self._drops.append(self._dropper.submit(self._drop, name))

    def close(self) -> None:
        """Drop the clones made for tests that never came, wait for every drop, and raise the first that failed."""
        while self._ready:
            self.give_back(self._ready.popleft().result())
        self._creators.shutdown(wait=True)
        self._dropper.shutdown(wait=True)
        for conn in self._connections:
            conn.close()
        for dropped in self._drops:
            dropped.result()

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        conn: psycopg.Connection[tuple[object, ...]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(f"{self._server}/postgres", autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _create(self, name: str) -> str:
        conn = self._connection()
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(self._template))
        )
        return name

    def _drop(self, name: str) -> None:
        self._connection().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
