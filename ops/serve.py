"""Serve a WSGI app under gunicorn from inside `nmc` (no config files, no import-string indirection)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from db.heap import freeze_startup_heap


class PipelineLogger(glogging.Logger):
    """gunicorn's own lines (booting, workers exiting, timeouts) go through the process's logging pipeline, so they
    are JSON or console lines like every other, instead of gunicorn's plain text on its own handler."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):
                    log.removeHandler(handler)
            log.propagate = True


class _GunicornApp(BaseApplication):
    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Called in each worker after fork, so every worker opens its own database pool and Redis client.
        app = self._app_factory()
        freeze_startup_heap()
        return app


def serve(
    app_factory: Callable[[], Any],
    *,
    bind: str,
    workers: int,
    threads: int,
    name: str,
    log_level: str = "info",
    timeout: int = 30,
    **extra: Any,
) -> None:
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "proc_name": name,
        "loglevel": log_level.lower(),
        "timeout": timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        # The ingress writes its own access line (status, duration, numbers masked); gunicorn's would not mask.
        "accesslog": None,
        "logger_class": PipelineLogger,
        # Gunicorn (>= 25.1) otherwise listens on ONE control socket per user ($XDG_RUNTIME_DIR or ~/.gunicorn
        # /gunicorn.ctl): the ingress and the sandbox would share it, and whoever can reach it can resize or stop
        # the other's workers. Nothing here uses `gunicornc`; signals do what it would.
        "control_socket_disable": True,
    }
    options.update(extra)
    _GunicornApp(app_factory, options).run()
