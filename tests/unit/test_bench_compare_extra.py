"""procrastinate is an extra (``.[bench-compare]``): only `nmc bench outbox --compare procrastinate` needs it, and that
says so in one line; the side-by-side tables pair each outbox scenario with procrastinate's of the same round."""

from __future__ import annotations

import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops.bench.outbox import command
from ops.bench.outbox_compare import COMPARE_HINT, comparison, comparison_lines
from tests.support.extras import assert_loads_without
from tests.support.services import base_settings

ROOT = Path(__file__).resolve().parents[2]


def test_procrastinate_is_only_in_the_bench_compare_and_dev_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [name for name in project["dependencies"] if name.startswith("procrastinate")]
    for extra in ("bench-compare", "dev"):
        assert [name for name in project["optional-dependencies"][extra] if name.startswith("procrastinate")]
    pinned = (ROOT / "constraints.txt").read_text().splitlines()
    assert [line for line in pinned if line.startswith("procrastinate==")]


def test_the_cli_and_every_process_entry_point_load_without_procrastinate() -> None:
    assert_loads_without("procrastinate", "ops.bench.outbox", "ops.bench.outbox_compare")


def test_compare_without_the_extra_stops_at_once_with_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "procrastinate", None)
    outcome = CliRunner().invoke(command, ["--compare", "procrastinate"], obj=base_settings())
    assert outcome.exit_code == 1
    assert outcome.output == f"Error: {COMPARE_HINT}\n"


def test_an_unknown_system_to_compare_with_is_a_usage_error() -> None:
    outcome = CliRunner().invoke(command, ["--compare", "celery"], obj=base_settings())
    assert outcome.exit_code == 2
    assert "Invalid value for '--compare': 'celery'" in outcome.output


def _result(system: str, mode: str, number: int, samples_ms: list[float], eps: float) -> dict[str, Any]:
    name = f"{mode}-1d-isolated" if system == "nmc" else f"{mode}-procrastinate"
    ordered = sorted(samples_ms)
    return {
        "scenario": name,
        "system": system,
        "round": number,
        "mode": mode,
        "handler_kind": "isolated" if system == "nmc" else "one-transaction-per-job",
        "throughput_eps": eps,
        "latency": {"p50_ms": ordered[len(ordered) // 2], "p95_ms": ordered[-1], "p99_ms": ordered[-1]},
        "samples": [sample / 1000 for sample in samples_ms],
        "id": uuid.uuid4(),
    }


def test_each_round_is_paired_with_procrastinates_same_round_and_the_rounds_are_pooled() -> None:
    results = [
        _result("nmc", "steady", 1, [1.0, 2.0], 200),
        _result("procrastinate", "steady", 1, [2.0, 4.0], 200),
        _result("nmc", "flat", 1, [500.0], 3000),
        _result("procrastinate", "flat", 1, [900.0], 300),
        _result("nmc", "steady", 2, [3.0, 4.0], 200),
        _result("procrastinate", "steady", 2, [3.0, 8.0], 200),
        _result("nmc", "flat", 2, [500.0], 2000),
        _result("procrastinate", "flat", 2, [900.0], 400),
    ]
    compared = comparison(results)
    (steady,) = compared["steady"]
    assert [row["round"] for row in steady["rounds"]] == ["1", "2", "all"]
    assert steady["rounds"][0]["ratio"]["p95_ms"] == 0.5  # 2 ms against 4 ms
    pooled = steady["rounds"][2]
    assert pooled["nmc"]["p99_ms"] == 4.0
    assert pooled["procrastinate"]["p99_ms"] == 8.0
    (flat,) = compared["flat"]
    assert [(row["nmc_eps"], row["procrastinate_jobs_per_s"], row["ratio"]) for row in flat["rounds"]] == [
        (3000, 300, 10.0),
        (2000, 400, 5.0),
    ]
    lines = comparison_lines(compared)
    assert "| all | 2.0 | 4.0 | 4.0 | 3.0 | 8.0 | 8.0 | 0.67 | 0.5 | 0.5 |" in lines
    assert "| 1 | 3000 | 300 | 10.0 |" in lines
