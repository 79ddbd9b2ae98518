"""Several complete nodes of the system on one box, as they would run on separate machines.

Each node is a ``LocalStack`` of its own: an ingress, a dispatcher and a worker pool, each in a process group of its
own, with its own log and metrics directories. They share what machines would share: one Postgres database, one
broker (and the Redis for heartbeats) under one namespace, one sandbox (the phone network, run by the first node),
and one public address, a round-robin TCP balancer in front of the ingresses (per connection, as a layer-4 load
balancer does), which every process is told is ``PUBLIC_BASE_URL`` so that Twilio signatures verify on any ingress.

A node is killed as a machine dies: its dispatcher's and its worker pool's process groups are SIGKILLed at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess

from ops.processes import stop_groups
from ops.stack import LocalStack

WORKER_NODE_PROCESSES = ("dispatcher", "worker")


class RoundRobinBalancer:
    """Hands each new TCP connection to the next target in turn and pumps bytes both ways."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.targets: list[int] = []
        self.connections: Counter[int] = Counter()
        self._turn = itertools.count()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pumps: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="balancer", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.targets:
                client.close()
                continue
            # A target that refuses (its ingress is down) passes the connection on to the next one, as a health-
            # checking balancer would.
            upstream = None
            for _ in range(len(self.targets)):
                port = self.targets[next(self._turn) % len(self.targets)]
                try:
                    upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    continue
            if upstream is None:
                client.close()
                continue
            self.connections[port] += 1
            pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            with self._lock:
                self._pumps = [thread for thread in self._pumps if thread.is_alive()]
                self._pumps.append(pump)
            pump.start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join()
        self._listener.close()
        with self._lock:
            pumps = list(self._pumps)
        for pump in pumps:
            pump.join()


def counter_totals(metrics_dir: Path, name: str, label: str) -> dict[str, float]:
    """A counter's samples in one process kind's multiprocess metrics directory (``<PROMETHEUS_MULTIPROC_DIR>/
    <process>``), summed by one label; killed processes' samples included: their files outlive them."""
    if not metrics_dir.is_dir():
        return {}
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
    totals: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == f"{name}_total":
                key = sample.labels.get(label, "")
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


class NodeCluster:
    """``nodes`` complete nodes sharing one database, broker, sandbox and public address (see the module doc)."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        namespace: str,
        log_dir: Path,
        nodes: int = 2,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.balancer = RoundRobinBalancer()
        self.log_dir = log_dir
        self.nodes: list[LocalStack] = []
        for index in range(nodes):
            node = LocalStack(
                database_url=database_url,
                redis_url=redis_url,
                namespace=namespace,
                log_dir=log_dir / f"node{index + 1}",
                extra_env={**(extra_env or {}), "PUBLIC_BASE_URL": self.balancer.url},
            )
            if self.nodes:
                node.sandbox_port = self.nodes[0].sandbox_port  # one phone network for all: the first node's
            self.nodes.append(node)
        self.balancer.targets = [node.ingress_port for node in self.nodes]

    @property
    def sandbox_url(self) -> str:
        return self.nodes[0].sandbox_url

    @property
    def public_url(self) -> str:
        return self.balancer.url

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return {
            f"node{index + 1} {name}": process
            for index, node in enumerate(self.nodes)
            for name, process in node.processes.items()
        }

    def start(self, *, timeout: float = 120.0) -> NodeCluster:
        try:
            for index, node in enumerate(self.nodes):
                names = (
                    ("sandbox", "ingress", *WORKER_NODE_PROCESSES)
                    if index == 0
                    else ("ingress", *WORKER_NODE_PROCESSES)
                )
                for name in names:
                    node.start_process(name)
            for node in self.nodes:
                node.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def kill_node(self, index: int) -> list[int]:
        """SIGKILL node ``index``'s dispatcher and worker pool, both process groups at once; returns their pids."""
        victims = [self.nodes[index].processes[name] for name in WORKER_NODE_PROCESSES]
        for process in victims:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for process in victims:
            process.wait(20)
        return [process.pid for process in victims]

    def deliveries_by_node(self) -> list[dict[str, float]]:
        """Per node, the deliveries its workers finished, by outcome (done, retry, dead, skipped)."""
        return [counter_totals(node.log_dir / "metrics" / "worker", "nmc_deliveries", "outcome") for node in self.nodes]

    def webhooks_by_node(self) -> list[float]:
        """Per node, the provider webhooks its ingress answered (any outcome)."""
        return [
            sum(counter_totals(node.log_dir / "metrics" / "ingress", "nmc_webhooks", "outcome").values())
            for node in self.nodes
        ]

    def stop(self) -> None:
        stop_groups(list(self.processes.values()))
        self.balancer.close()
