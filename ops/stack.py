"""A whole local system as real `nmc` processes on free ports, for acceptance tests, benchmarks and chaos runs.

Every process gets the same environment (database, Redis namespace, addresses), so a stack is isolated from any
other running on the machine. Processes can be SIGKILLed and restarted one at a time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from db import lifetime
from ops.processes import children as child_processes
from ops.processes import stop_groups

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROCESSES = ("sandbox", "ingress", "dispatcher", "worker")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LocalStack:
    database_url: str
    redis_url: str
    namespace: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nmc-stack-")))
    ingress_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def env(self) -> dict[str, str]:
        metrics_dir = self.log_dir / "metrics"
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DRAMATIQ_NAMESPACE": self.namespace,
            "PUBLIC_BASE_URL": self.ingress_url,
            "INGRESS_BIND": f"127.0.0.1:{self.ingress_port}",
            "SANDBOX_BIND": f"127.0.0.1:{self.sandbox_port}",
            "TWILIO_API_BASE_URL": self.sandbox_url,
            "CLERK_JWKS_URL": f"{self.sandbox_url}/.well-known/jwks.json",
            "SANDBOX_KEY_PATH": str(self.log_dir / "sandbox-jwk.pem"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "DISPATCHER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "SCHEDULER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "WORKER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def start(self, names: Iterable[str] = DEFAULT_PROCESSES, *, timeout: float = 30.0) -> LocalStack:
        for name in names:
            self.start_process(name)
        self.wait_ready(timeout)
        return self

    def start_process(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Every process writes its metric samples there from its first import: it must exist before any starts.
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "ops", name, *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        self.processes[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """SIGKILL (by default) the whole process group: for gunicorn and the worker pool, every child too."""
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(20)

    def kill_child(self, name: str) -> int | None:
        """SIGKILL one child of a pool (a gunicorn or Dramatiq worker process); its parent replaces it."""
        parent = self.processes[name].pid
        children = child_processes(parent)
        if not children:
            return None
        victim = children[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def restart(self, name: str) -> None:
        self.kill(name)
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.start_process(name)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        checks = []
        if "ingress" in self.processes:
            checks.append(f"{self.ingress_url}/readyz")
        if "sandbox" in self.processes:
            checks.append(f"{self.sandbox_url}/healthz")
        for url in checks:
            while True:
                try:
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                for name, process in self.processes.items():
                    if process.poll() is not None:
                        raise RuntimeError(f"`nmc {name}` exited with {process.returncode} while starting")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready after {timeout} s")
                time.sleep(0.1)

    def stop(self) -> None:
        stop_groups(self.processes.values())


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child sent SIGTERM when the process starting it dies (Linux).

    The processes run in sessions of their own, so that one can be signalled with its children (gunicorn's and the
    worker pool's); without this, a SIGKILLed supervisor (`nmc up`, a test, a benchmark) would leave them running,
    orphaned. Linux ties the signal to the starting *thread*, so a process started from any thread but the main one
    (chaos's fault injector restarting a dispatcher) goes without: it would be stopped when that thread ends.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def in_child() -> None:
        lifetime.die_with_parent(parent)

    return in_child
