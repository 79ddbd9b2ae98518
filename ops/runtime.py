"""What every long-running `nmc` process does first: logging with its name, metrics, a liveness heartbeat."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from db.settings import Settings


@dataclass
class ProcessHooks:
    on_tick: Callable[[], None] | None = None


def configure_process(settings: Settings, name: str) -> ProcessHooks:
    try:
        from ops.logging import configure_logging
    except ImportError:
        logging.basicConfig(
            level=settings.log_level,
            stream=sys.stderr,
            format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
        )
    else:
        configure_logging(settings, name)
    return ProcessHooks()
