"""The callers of a scratch system: each rings a tenant, reads the first SMS and plays a short script back.

Everything goes through the sandbox, as a phone would: the callers see only what the provider carried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from ops.sandbox.client import SandboxClient

QUESTION = ("How much is a drain cleaning?",)
BOOKING = (
    "Hi! How much is it to fix a clogged drain? Could someone come tomorrow morning?",
    "the first one works",
    "yes",
)
STOP = ("STOP",)


@dataclass(frozen=True)
class CallerPlan:
    caller: str
    number: str
    script: tuple[str, ...]


@dataclass
class CallerOutcome:
    caller: str
    number: str
    script: tuple[str, ...]
    accepted: bool = False
    ring_attempts: int = 0
    texts_sent: int = 0
    replies_seen: int = 0
    gave_up: str | None = None


class World:
    """The callers' side, through the sandbox: ring, text, and read what the business sent back.

    Each caller thread has a pooled connection of its own; the run's own reads and fault arming go one-shot."""

    def __init__(self, sandbox_url: str) -> None:
        self._url = sandbox_url
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    @property
    def sandbox(self) -> SandboxClient:
        client: SandboxClient | None = getattr(self._local, "sandbox", None)
        if client is None:
            http = httpx.Client(timeout=15.0)
            client = SandboxClient(self._url, http=http)
            self._local.sandbox = client
            with self._lock:
                self._clients.append(http)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def ring(self, caller: str, number: str, *, attempts: int = 30) -> tuple[bool, int]:
        """A missed call, rung again (as a caller would) until the ingress took both webhooks."""
        for attempt in range(1, attempts + 1):
            try:
                answer = self.sandbox.call(caller, number)
                if answer.status_code == 200:
                    statuses = answer.json()["webhook_status"]
                    if len(statuses) == 2 and all(status < 400 for status in statuses):
                        return True, attempt
            except httpx.HTTPError:
                pass
            time.sleep(min(2.0, 0.2 * attempt))
        return False, attempts

    def text(self, caller: str, number: str, body: str, *, attempts: int = 30) -> bool:
        for attempt in range(1, attempts + 1):
            try:
                answer = self.sandbox.sms(caller, number, body)
                if answer.status_code == 200 and answer.json()["webhook_status"] < 400:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(min(2.0, 0.2 * attempt))
        return False

    def outbound(self, caller: str) -> list[dict[str, Any]]:
        try:
            return self.sandbox.messages(to=caller)
        except httpx.HTTPError:
            return []

    def wait_for(self, caller: str, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            seen = len(self.outbound(caller))
            if seen >= count:
                return seen
            time.sleep(0.5)  # a caller glancing at the phone; tighter polling only loads the machine under test
        return seen

    def all_messages(self) -> list[dict[str, Any]]:
        return SandboxClient(self._url, timeout=60).messages()

    def arm(self, document: dict[str, Any]) -> dict[str, Any]:
        return SandboxClient(self._url).arm(document)

    def faults(self) -> dict[str, Any]:
        return SandboxClient(self._url).faults()


def play(world: World, plan: CallerPlan, *, patience: float = 30.0) -> CallerOutcome:
    outcome = CallerOutcome(plan.caller, plan.number, plan.script)
    outcome.accepted, outcome.ring_attempts = world.ring(plan.caller, plan.number)
    if not outcome.accepted:
        outcome.gave_up = "call never accepted"
        return outcome
    if not plan.script:
        return outcome
    seen = world.wait_for(plan.caller, 1, patience)
    if seen < 1:
        outcome.gave_up = "no first SMS to reply to"
        return outcome
    outcome.replies_seen = seen
    for line in plan.script:
        if not world.text(plan.caller, plan.number, line):
            outcome.gave_up = f"text {line!r} never accepted"
            return outcome
        outcome.texts_sent += 1
        if line in STOP:
            return outcome  # STOP gets no reply from us
        now_seen = world.wait_for(plan.caller, outcome.replies_seen + 1, patience)
        if now_seen <= outcome.replies_seen:
            outcome.gave_up = f"no reply to {line!r}"
            return outcome
        time.sleep(0.3)  # a reply can come in two parts; let the second land before answering
        outcome.replies_seen = len(world.outbound(plan.caller))
    return outcome


def drive(
    world: World,
    plans: Sequence[CallerPlan],
    duration: float,
    concurrency: int,
    started: float,
    *,
    patience: float = 30.0,
) -> list[CallerOutcome]:
    """Start callers at an even rate over ``duration``; each plays its script on a pool thread."""
    interval = duration / max(1, len(plans))
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="caller") as pool:
        futures = []
        for index, plan in enumerate(plans):
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(play, world, plan, patience=patience))
        return [future.result() for future in futures]
