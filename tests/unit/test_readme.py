"""The README documents every setting, and the committed Event Catalog is current."""

from __future__ import annotations

from pathlib import Path

from db.settings import Settings
from ops.commands.events import catalog_as_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("make run")
    assert lines[3].startswith("make test")


def test_the_committed_event_catalog_is_current() -> None:
    committed = (ROOT / "docs" / "event-catalog.md").read_text()
    assert committed == catalog_as_markdown(), "run: nmc events --format markdown > docs/event-catalog.md"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
