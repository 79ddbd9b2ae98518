"""Outgoing HTTP from the sandbox: signed Twilio-style form posts, now or after a delay.

Delayed work goes on one timer thread (a heap) that hands due jobs to a small pool, so a thousand pending callbacks
cost a thousand heap entries rather than a thousand sleeping threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
from twilio.request_validator import RequestValidator

logger = logging.getLogger("nmc.sandbox")


class Courier:
    """Posts to the ingress as Twilio would, and runs jobs later on a background pool."""

    def __init__(self, auth_token: str, *, threads: int = 8, timeout_seconds: float = 5.0) -> None:
        self._validator = RequestValidator(auth_token)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=2.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": "TwilioProxy/1.1 (nmc-sandbox)"},
        )
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sandbox-callback")
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._tiebreak = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._timer = threading.Thread(target=self._run_timer, name="sandbox-timer", daemon=True)
        self._timer.start()

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        signature: str = self._validator.compute_signature(url, dict(params))
        return signature

    def post_form(self, url: str, params: Mapping[str, str]) -> httpx.Response:
        """POST form params signed with X-Twilio-Signature over the exact URL; raises httpx.HTTPError."""
        return self._http.post(url, data=dict(params), headers={"X-Twilio-Signature": self.sign(url, params)})

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return self._http.post(url, content=body, headers={"Content-Type": "application/json", **headers})

    def later(self, delay_seconds: float, job: Callable[[], None]) -> None:
        with self._wake:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + delay_seconds, next(self._tiebreak), job))
            self._wake.notify()

    def _run_timer(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                    self._wake.wait(timeout)
                if self._closed:
                    return
                _due, _n, job = heapq.heappop(self._heap)
            self._pool.submit(self._guarded, job)

    @staticmethod
    def _guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # a background job must never kill the pool thread
            logger.exception("sandbox background job failed")

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._heap.clear()
            self._wake.notify_all()
        self._timer.join(timeout=2)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()
