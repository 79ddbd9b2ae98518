"""`nmc bench api` in miniature: a small tenant through a running system, then the report is checked for sense
(not for speed: the machine is shared)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops.bench.api import command
from tests.support.services import SERVER, base_settings

pytestmark = pytest.mark.slow


def test_a_small_run_writes_a_sane_report(
    tmp_path: Path, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the report goes to ./bench/results
    settings = base_settings(
        database_url=f"{SERVER}/nmc_api_{uuid.uuid4().hex[:8]}", dramatiq_namespace=redis_namespace
    )
    outcome = CliRunner().invoke(
        command,
        ["--conversations", "60", "--messages", "600", "--iterations", "8", "--warmup", "2", "--live-samples", "3"],
        obj=settings,
    )
    assert outcome.exit_code == 0, outcome.output + repr(outcome.exception)
    data_files = list((tmp_path / "bench" / "results").glob("api-*.json"))
    assert len(data_files) == 1
    data = json.loads(data_files[0].read_text())
    assert data["scenario"]["conversations"] == 60
    for name, count in (("inbox", 8), ("thread", 8), ("text_to_visible", 3)):
        figures = data[name]
        assert figures["count"] == count
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert "caller text → visible" in outcome.output
