"""`nmc bench e2e` in miniature: a few tenants and conversations through the real stack, then the report files and
figures are checked for sense (not for speed: the machine is shared)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ops.bench.e2e import command
from ops.bench.e2e_support import STAGES
from tests.support.services import SERVER, base_settings

pytestmark = pytest.mark.slow


def test_a_small_run_writes_a_sane_report(tmp_path: Path, redis_namespace: str) -> None:
    name = f"nmc_e2e_{uuid.uuid4().hex[:8]}"
    settings = base_settings(database_url=f"{SERVER}/{name}", dramatiq_namespace=redis_namespace)
    results = tmp_path / "results"
    outcome = CliRunner().invoke(
        command,
        [
            "--tenants", "40",
            "--conversations", "6",
            "--concurrency", "3",
            "--warmup", "1",
            "--think-seconds", "0",
            "--rate", "4",
            "--worker-processes", "1",
            "--worker-threads", "4",
            "--ingress-workers", "1",
            "--ingress-threads", "8",
            "--timeout", "60",
            "--results-dir", str(results),
        ],
        obj=settings,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output + repr(outcome.exception)

    markdown = list(results.glob("e2e-*.md"))
    data_files = list(results.glob("e2e-*.json"))
    images = list(results.glob("e2e-*.png"))
    assert len(markdown) == len(data_files) == len(images) == 1
    assert images[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert images[0].name in markdown[0].read_text()
    assert "first SMS" in outcome.output
    assert "target ≤ 150" in outcome.output

    data = json.loads(data_files[0].read_text())
    assert data["completed"] == data["conversations"] == 6
    assert data["failures"] == {}
    assert data["dead_letters"] == 0
    assert data["replies_quoting_a_price"] == 6  # every question was a price question for a catalog item
    for figures in (data["first_sms_db"], data["first_sms_sandbox"], data["ai_reply_sandbox"]):
        assert figures["count"] == 6
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"] < 20_000
    assert data["throughput"]["conversations_per_s"] > 0
    assert data["offered"]["mode"] == "open loop"
    assert data["offered"]["start_lag"]["count"] == 6
    handlers = {row["handler"]: row["deliveries"] for row in data["handlers"]}
    assert handlers["conversations.greet_missed_caller"] == 6
    assert handlers["conversations.send_message"] == 12  # the first SMS and the AI reply of each conversation

    # The per-stage breakdown covers every measured message and adds up to the latency stored on the message.
    first = data["breakdown"]["first_sms"]
    assert first["count"] == 6
    assert all(first["stages"][stage]["p50_ms"] >= 0 for stage in STAGES)
    stage_means = sum(first["stages"][stage]["mean_ms"] for stage in STAGES)
    assert stage_means == pytest.approx(first["stages"]["total"]["mean_ms"], abs=1.0)
    assert first["stages"]["total"]["mean_ms"] == pytest.approx(data["first_sms_db"]["mean_ms"], abs=2.0)
    assert data["breakdown"]["ai_reply"]["count"] == 6

    for process in ("sandbox", "ingress", "dispatcher", "worker"):
        assert data["cpu"][process]["cpu_seconds"] > 0, process
    assert any(name.startswith("postgres (nmc-worker") for name in data["cpu"])

    # The scratch database is dropped afterwards.
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_bench_e2e",)).fetchone() is None
