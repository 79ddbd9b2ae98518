"""Checks an optional extra's tests share: the running system loads without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What runs in production: the CLI with every command, and each long-running process's modules.
ENTRY_POINTS = "ingress.app, workers.processes, ops.jobs"


def assert_loads_without(package: str, *also: str) -> None:
    """Import the CLI (every command), the process entry points and ``also`` in a fresh interpreter where importing
    ``package`` fails."""
    script = (
        "import sys\n"
        f"sys.modules[{package!r}] = None\n"  # an import of it now fails
        "from ops.cli import _register, cli\n"
        "_register()\n"
        f"import {', '.join((*also, ENTRY_POINTS))}\n"
        "print('loaded')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded"
