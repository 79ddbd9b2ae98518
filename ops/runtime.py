"""What every long-running `nmc` process does first: JSON logs with its name, multiprocess metrics, a heartbeat."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from db import heartbeats
from db.metrics import configure_multiprocess, reset_multiprocess_dir, start_metrics_server
from db.settings import Settings
from ops.logging import configure_logging

logger = logging.getLogger("nmc.runtime")


@dataclass
class ProcessHooks:
    name: str
    settings: Settings
    _redis: redis.Redis | None = field(default=None, repr=False)

    def on_tick(self) -> None:
        """Called from the process's main loop: refresh the liveness key (never let a Redis hiccup kill the loop)."""
        try:
            if self._redis is None:
                self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
            heartbeats.beat(self._redis, self.name, ttl_seconds=self.settings.heartbeat_ttl_seconds, pid=os.getpid())
        except redis.RedisError as error:
            logger.warning("heartbeat not written: %s", error)

    def serve_metrics(self, bind: str) -> None:
        try:
            start_metrics_server(bind, self.settings, self.name)
        except OSError as error:
            # Another local process may own the port; metrics are not worth refusing to run over.
            logger.warning("metrics not served on %s: %s", bind, error)


def configure_process(settings: Settings, name: str) -> ProcessHooks:
    """Logging and metrics for process kind ``name``; call once in the parent, before any fork."""
    configure_logging(settings, name)
    reset_multiprocess_dir(settings, name)
    configure_multiprocess(settings, name)
    return ProcessHooks(name, settings)


def tick_every(hooks: ProcessHooks) -> Callable[[], None]:
    return hooks.on_tick
