"""Live updates: ``GET /app/events`` is a server-sent event stream that says "this tenant's inbox changed".

Postgres tells us: a statement trigger on ``conv_messages`` and ``conv_conversations`` (migration 0010) sends
``NOTIFY nmc_staff_inbox, '<tenant> <conversation>'`` on commit. Each gunicorn worker process has ONE listening
connection (``InboxFeed``, a daemon thread) however many streams it serves, so any number of workers each see every
change; a stream waits on a condition variable, never on the database.

Streams are bounded, because the ingress runs gunicorn's ``gthread`` workers and every open stream holds one of a
worker's ``INGRESS_THREADS`` threads: a stream ends after ``STAFF_STREAM_SECONDS`` (the browser's EventSource
reconnects by itself, ``retry: 1000``), and a worker serves at most ``STAFF_STREAMS_PER_WORKER`` at once — the next
one gets 503 and the page falls back to polling its list every few seconds. Webhooks always keep threads to run on.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import falcon
import psycopg
import structlog

from ingress.api.base import caller
from ingress.staff_app.auth import StaffAuthenticate, authenticate_staff

CHANNEL = "nmc_staff_inbox"
# A browser that navigated away is only noticed when the next write to it fails: the heartbeat bounds how long its
# stream keeps one of the worker's few stream slots (clicking through the app opens a stream per page).
HEARTBEAT_SECONDS = 5.0
RECONNECT_SECONDS = 1.0

log = structlog.get_logger(__name__)


class InboxFeed:
    """Per-process fan-out of the tenant change notifications; started on first use."""

    def __init__(self, conninfo: str, *, connect: Callable[[str], psycopg.Connection[Any]] | None = None) -> None:
        self._conninfo = conninfo
        self._connect = connect or (lambda info: psycopg.connect(info, autocommit=True))
        self._changed = threading.Condition()
        self._versions: dict[uuid.UUID, int] = {}
        self._conversations: dict[uuid.UUID, uuid.UUID | None] = {}
        self._generation = 0  # bumped when the listener (re)connects: anything may have changed meanwhile
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._ready = threading.Event()
        self._stopped = threading.Event()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="staff-inbox-feed", daemon=True)
                self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        self._stopped.set()

    def version(self, tenant_id: uuid.UUID) -> tuple[int, int]:
        with self._changed:
            return self._generation, self._versions.get(tenant_id, 0)

    def wait(
        self, tenant_id: uuid.UUID, seen: tuple[int, int], timeout: float
    ) -> tuple[tuple[int, int], uuid.UUID | None]:
        """Block until the tenant's version moves past ``seen`` or ``timeout``; the new version and the last
        conversation named (None when unknown)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (self._generation, self._versions.get(tenant_id, 0)) == seen:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped.is_set():
                    break
                self._changed.wait(left)
            return (self._generation, self._versions.get(tenant_id, 0)), self._conversations.get(tenant_id)

    def _publish(self, payload: str) -> None:
        tenant_raw, _, conversation_raw = payload.partition(" ")
        try:
            tenant_id = uuid.UUID(tenant_raw)
            conversation_id = uuid.UUID(conversation_raw) if conversation_raw else None
        except ValueError:
            return
        with self._changed:
            self._versions[tenant_id] = self._versions.get(tenant_id, 0) + 1
            self._conversations[tenant_id] = conversation_id
            self._changed.notify_all()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with self._connect(self._conninfo) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._changed:
                        self._generation += 1
                        self._changed.notify_all()
                    self._ready.set()
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self._publish(notice.payload)
            except psycopg.Error as error:
                log.warning("staff inbox feed lost its connection", error=str(error))
                self._ready.set()  # streams still run (on heartbeats) while we reconnect
                time.sleep(RECONNECT_SECONDS)


@falcon.before(authenticate_staff)
class EventsResource:
    """GET /app/events: ``event: inbox`` (data: the conversation that changed, if one did) whenever the signed-in
    member's tenant changes; a comment every 15 s keeps proxies from closing it."""

    def __init__(self, auth: StaffAuthenticate, feed: InboxFeed, *, stream_seconds: float, max_streams: int) -> None:
        self.auth = auth
        self._feed = feed
        self._stream_seconds = stream_seconds
        self._slots = threading.BoundedSemaphore(max_streams)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._slots.acquire(blocking=False):
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "10")
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = "too many live streams on this worker; poll instead"
            return
        self._feed.start()
        tenant_id = caller(req).tenant_id
        resp.content_type = "text/event-stream"
        resp.cache_control = ["no-store"]
        resp.set_header("X-Accel-Buffering", "no")
        # Read before the response starts, so a change committed while it is being sent is not missed.
        seen = self._feed.version(tenant_id)
        resp.stream = _Stream(self._events(tenant_id, seen), self._slots.release)

    def _events(self, tenant_id: uuid.UUID, seen: tuple[int, int]) -> Iterator[bytes]:
        yield b"retry: 1000\n: connected\n\n"
        deadline = time.monotonic() + self._stream_seconds
        while (left := deadline - time.monotonic()) > 0:
            current, conversation = self._feed.wait(tenant_id, seen, min(HEARTBEAT_SECONDS, left))
            if current != seen:
                seen = current
                data = json.dumps({"conversation_id": str(conversation) if conversation else None})
                yield f"event: inbox\ndata: {data}\n\n".encode()
            else:
                yield b": heartbeat\n\n"


class _Stream:
    """The WSGI body: the server calls ``close()`` when the stream ends or the browser goes away, even if it never
    started iterating (a generator's ``finally`` would not run then), so the stream's slot is always given back."""

    def __init__(self, events: Iterator[bytes], release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        if self._release is not None:
            release, self._release = self._release, None
            release()
