"""matplotlib is an extra (``.[plots]``): nothing but `nmc bench e2e` needs it, and that says so in one line."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops.bench.e2e import command
from ops.bench.e2e_support import PLOTS_HINT
from tests.support.extras import assert_loads_without
from tests.support.services import base_settings

ROOT = Path(__file__).resolve().parents[2]


def test_matplotlib_is_only_in_the_plots_and_dev_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [name for name in project["dependencies"] if name.startswith("matplotlib")]
    assert [name for name in project["optional-dependencies"]["plots"] if name.startswith("matplotlib")]


def test_the_cli_and_every_process_entry_point_load_without_matplotlib() -> None:
    assert_loads_without("matplotlib", "ops.bench.e2e")


def test_bench_e2e_without_the_extra_stops_at_once_with_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    outcome = CliRunner().invoke(command, ["--tenants", "1"], obj=base_settings())
    assert outcome.exit_code == 1
    assert outcome.output == f"Error: {PLOTS_HINT}\n"
