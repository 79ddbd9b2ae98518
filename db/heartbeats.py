"""Process liveness: each long-running loop writes a Redis key with a TTL; a missing key means a dead process.

Key ``<DRAMATIQ_NAMESPACE>:__processes__:<process>:<pid>``; the value says when, where and under which parent. A TTL,
not a timestamp compared by a reader, so a killed process disappears on its own and nothing has to clean up after it.

The keys live in the system's own Dramatiq namespace, so two systems sharing one Redis see only their own processes,
and the ``__`` marks them as bookkeeping, not a queue (Dramatiq's own ``__acks__``/``__heartbeats__`` look the same).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass

import redis

DEFAULT_TTL_SECONDS = 30


def prefix_for(namespace: str) -> str:
    return f"{namespace}:__processes__"


@dataclass(frozen=True)
class Heartbeat:
    process: str
    pid: int
    host: str
    at: float
    ttl_seconds: int
    # The process that started this one: tells `nmc up` which worker children are its own.
    ppid: int = 0

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.at)


def beat(
    client: redis.Redis,
    namespace: str,
    process: str,
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    pid: int | None = None,
    ppid: int | None = None,
) -> None:
    """Record that ``process`` (this pid) is alive for the next ``ttl_seconds``; call it from the main loop."""
    pid = os.getpid() if pid is None else pid
    ppid = os.getppid() if ppid is None else ppid
    value = json.dumps({"process": process, "pid": pid, "ppid": ppid, "host": socket.gethostname(), "at": time.time()})
    client.set(f"{prefix_for(namespace)}:{process}:{pid}", value, ex=ttl_seconds)


def alive(client: redis.Redis, namespace: str) -> list[Heartbeat]:
    """Every live heartbeat of this namespace, sorted by process then pid."""
    found: list[Heartbeat] = []
    for key in client.scan_iter(match=f"{prefix_for(namespace)}:*", count=500):
        raw = client.get(key)
        if raw is None:
            continue  # expired between SCAN and GET
        ttl = client.ttl(key)
        data = json.loads(raw)
        found.append(
            Heartbeat(
                process=str(data["process"]),
                pid=int(data["pid"]),
                host=str(data.get("host", "")),
                at=float(data["at"]),
                ttl_seconds=int(ttl) if isinstance(ttl, int) and ttl > 0 else 0,
                ppid=int(data.get("ppid", 0)),
            )
        )
    return sorted(found, key=lambda heartbeat: (heartbeat.process, heartbeat.pid))


def alive_since(client: redis.Redis, namespace: str, since: float) -> Counter[str]:
    """How many processes of each kind have beaten at or after ``since`` (a ``time.time()``): those started by a
    run that began then, and are up (each kind beats only once it is working: a worker child once consuming)."""
    return Counter(beat.process for beat in alive(client, namespace) if beat.at >= since)


def stop(client: redis.Redis, namespace: str, process: str, *, pid: int | None = None) -> None:
    """Remove this process's heartbeat on a clean shutdown (so status shows it gone at once, not after the TTL)."""
    client.delete(f"{prefix_for(namespace)}:{process}:{os.getpid() if pid is None else pid}")
