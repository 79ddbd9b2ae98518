"""Every metric a Grafana panel or an alert rule queries is in the live /metrics output of a running process, and
the ingress serves /metrics on its own bind (INGRESS_METRICS_BIND), not on the public webhook port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from db.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def queried_names() -> set[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/nmc.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    names = set()
    for expr in exprs:
        bare = re.sub(
            r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)
        )
        for token in re.findall(r"(?<![\w.:])[a-zA-Z_][a-zA-Z0-9_:]*(?![\w:]*\s*\()", bare):
            if token not in PROMQL_WORDS and ":" not in token and token != "up":  # up: Prometheus's own
                names.add(token)
    return names


def live_names(text: str) -> set[str]:
    """Every sample name the exposition can carry: a family with no sample yet still declares its type."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _get(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "the process exited"
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s"
            time.sleep(0.1)


def test_every_queried_metric_is_in_a_running_process_s_metrics(settings: Settings) -> None:
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DRAMATIQ_NAMESPACE": settings.dramatiq_namespace,
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    scheduler_port, ingress_port, ingress_metrics_port = _free_port(), _free_port(), _free_port()
    scheduler = _start(
        [sys.executable, "-m", "ops", "scheduler"], env | {"SCHEDULER_METRICS_BIND": f"127.0.0.1:{scheduler_port}"}
    )
    ingress = _start(
        [sys.executable, "-m", "ops", "ingress", "--bind", f"127.0.0.1:{ingress_port}", "-w", "1", "-t", "2"],
        env | {"INGRESS_METRICS_BIND": f"127.0.0.1:{ingress_metrics_port}"},
    )
    try:
        exposition = _get(f"http://127.0.0.1:{scheduler_port}/metrics", scheduler).text
        assert _get(f"http://127.0.0.1:{ingress_port}/readyz", ingress).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ingress_port}/metrics", timeout=5).status_code == 404
        ingress_metrics = _get(f"http://127.0.0.1:{ingress_metrics_port}/metrics", ingress).text
    finally:
        for process in (scheduler, ingress):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (scheduler, ingress):
            process.wait(timeout=30)
    queried = queried_names()
    assert {"nmc_first_sms_latency_seconds_bucket", "nmc_ingress_request_seconds_bucket", "nmc_build_info"} <= queried
    assert queried - live_names(exposition) == set()
    # The ingress's own metrics bind sums its workers: the readiness request it served is there.
    assert 'nmc_ingress_request_seconds_count{method="GET",route="/readyz",status="2xx"}' in ingress_metrics
    assert "nmc_build_info{" in ingress_metrics
