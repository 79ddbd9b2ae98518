"""Several complete nodes of the system on one box, as they would run on separate machines.

Each node is a ``LocalStack`` of its own: an ingress, a dispatcher and a worker pool, each in a process group of its
own, with its own log and metrics directories. They share what machines would share: one Postgres database, one
broker (and the Redis for heartbeats) under one namespace, one sandbox (the phone network, run by the first node),
and one public address, a round-robin TCP forwarder in front of the ingresses (per connection, as a layer-4 load
balancer does), which every process is told is ``PUBLIC_BASE_URL`` so that Twilio signatures verify on any ingress.

A node is killed as a machine dies: its dispatcher's and its worker pool's process groups are SIGKILLed at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess

from ops.harness.forwarder import TcpForwarder
from ops.processes import stop_groups
from ops.stack import LocalStack

WORKER_NODE_PROCESSES = ("dispatcher", "worker")


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
        self.balancer = TcpForwarder()
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
        self.balancer.targets = [("127.0.0.1", node.ingress_port) for node in self.nodes]

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
