"""A private RabbitMQ node for one scratch system: the chaos run kills and restarts it; the shared node stays up.

The machine's own RabbitMQ serves other stacks, so it is never restarted. A second node runs from the same
installation under its own node name, ports, data and log directories (RABBITMQ_* variables), with a configuration
file of its own (the system one binds the shared node's port). It must be started through the real start script:
Debian's ``/usr/sbin/rabbitmq-server`` re-runs itself as the ``rabbitmq`` user through ``su``, which drops the
environment this node is defined by.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import click
import pika
import pika.exceptions

from ops.stack import free_port

# Debian and Ubuntu put the start script behind a wrapper; elsewhere (a tarball, Homebrew) PATH has the script itself.
DEBIAN_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def rabbitmq_server() -> str | None:
    if DEBIAN_SCRIPT.exists():
        return str(DEBIAN_SCRIPT)
    return shutil.which("rabbitmq-server")


class PrivateRabbitmq:
    """A RabbitMQ node of our own on free ports. Its data directory survives a restart, as a real node's disk does:
    durable queues and the persistent messages it had written come back; what it had not written is lost."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.home = log_dir / f"rabbitmq-{self.port}"
        self.log_path = log_dir / "rabbitmq.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict[str, str]:
        config = self.home / "rabbitmq.conf"
        if not config.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            # guest may log in over 127.0.0.1 only by default, which is all this node listens on.
            config.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
            (self.home / "enabled_plugins").write_text("[].\n")
            (self.home / "rabbitmq-env.conf").write_text("")
        return {
            **os.environ,
            "HOME": str(self.home),  # the Erlang cookie is written there
            "RABBITMQ_NODENAME": f"nmc-private-{self.port}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.home / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 120.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the node without waiting for it (it takes 10-30 s to boot): other setup can go on meanwhile."""
        script = rabbitmq_server()
        if script is None:
            raise click.ClickException(
                "rabbitmq-server is not installed, and the RabbitMQ chaos run needs a node of its own"
                " (Debian/Ubuntu: apt-get install rabbitmq-server)"
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [script], env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        assert self.process is not None, "launch() first"
        parameters = pika.URLParameters(self.url)
        parameters.socket_timeout = 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                pika.BlockingConnection(parameters).close()
                return
            except pika.exceptions.AMQPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the private RabbitMQ node on port {self.port} did not start (see {self.log_path})")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the node (its start script and the Erlang VM, one process group), as a crash would."""
        self._signal(signal.SIGKILL, wait=10)

    def stop(self) -> None:
        try:
            self._signal(signal.SIGTERM, wait=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, sig: int, *, wait: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(wait)
