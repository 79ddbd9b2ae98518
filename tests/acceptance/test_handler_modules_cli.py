"""`nmc dispatcher` and `nmc worker` refuse an unknown HANDLER_MODULES in one line instead of serving less."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from db.settings import Settings


@pytest.mark.parametrize("argv", [["dispatcher"], ["worker", "-p", "1", "-t", "1"]])
def test_an_unknown_handler_module_stops_the_process_in_one_line(
    settings: Settings, argv: list[str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
        "HANDLER_MODULES": "domain.reporting.handlers,domain.reportng.handlers",
        "PROMETHEUS_MULTIPROC_DIR": "",
        "DISPATCHER_METRICS_BIND": "127.0.0.1:0",
        "WORKER_METRICS_BIND": "127.0.0.1:0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ops", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "Error: invalid HANDLER_MODULES: no module named 'domain.reportng.handlers'"
    # An empty PROMETHEUS_MULTIPROC_DIR means metrics in-process, not sample files in the working directory.
    assert sorted(path.name for path in tmp_path.iterdir()) == []
