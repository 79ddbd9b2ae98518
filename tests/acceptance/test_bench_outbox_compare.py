"""`nmc bench outbox --compare procrastinate` in miniature: both systems handle every event, side by side in two
interleaved rounds, and the ratios are printed and written (their values are not checked: the machine is shared)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ops.bench.outbox import command
from tests.support.services import SERVER, base_settings

pytestmark = pytest.mark.slow


def test_a_tiny_comparison_handles_every_event_on_both_sides_and_reports_the_ratios(
    tmp_path: Path, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the report goes to ./bench/results
    name = f"nmc_cmp_{uuid.uuid4().hex[:8]}"
    settings = base_settings(database_url=f"{SERVER}/{name}", dramatiq_namespace=redis_namespace)
    outcome = CliRunner().invoke(
        command,
        [
            "--compare", "procrastinate",
            "--rounds", "2",
            "--dispatchers", "1",
            "--handlers", "isolated",
            "--steady-rate", "50",
            "--steady-seconds", "1",
            "--flat-events", "200",
            "--worker-processes", "1",
            "--worker-threads", "2",
        ],
        obj=settings,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output + repr(outcome.exception)

    (data_file,) = (tmp_path / "bench" / "results").glob("outbox-*.json")
    data = json.loads(data_file.read_text())
    results = data["results"]
    assert [(r["round"], r["system"], r["mode"]) for r in results] == [
        (number, system, mode)
        for number in (1, 2)
        for mode in ("steady", "flat")
        for system in ("nmc", "procrastinate")
    ]
    for result in results:
        assert result["handled"] == result["events"] == (50 if result["mode"] == "steady" else 200), result
        assert 0 < result["latency"]["p50_ms"] <= result["latency"]["p95_ms"] <= result["latency"]["p99_ms"]
        assert "samples" not in result

    compared = data["comparison"]
    assert compared["against"] == "procrastinate"
    (steady,) = compared["steady"]
    assert steady["scenario"] == "steady-1d-isolated"
    assert [row["round"] for row in steady["rounds"]] == ["1", "2", "all"]
    for row in steady["rounds"]:
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            assert row["ratio"][key] == round(row["nmc"][key] / row["procrastinate"][key], 2)
    (flat,) = compared["flat"]
    assert [row["round"] for row in flat["rounds"]] == ["1", "2"]
    for row in flat["rounds"]:
        assert row["ratio"] == round(row["nmc_eps"] / row["procrastinate_jobs_per_s"], 2)

    assert "steady-1d-isolated (isolated) vs procrastinate, commit → start" in outcome.output
    assert "flat-1d-isolated (isolated) vs procrastinate (one transaction per job), flat out" in outcome.output
    report = data_file.with_suffix(".md").read_text()
    assert "## Side by side with procrastinate" in report
    assert "| all |" in report
    # The scratch database, and procrastinate's schema with it, is gone.
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_bench",)).fetchone() is None
