"""The README documents every setting, and the committed Event Catalog is current."""

from __future__ import annotations

import subprocess
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


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file but the tools' own
        skipped = {".git", ".venv", ".run", "bench", "node_modules", "nevermisscall.egg-info"}
        return [path for path in ROOT.rglob("*") if path.is_file() and not skipped & set(path.relative_to(ROOT).parts)]
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_points_outside_the_repository() -> None:
    # Someone who clones the project has no sibling folder: the design and the terms live in docs/.
    outside = "/".join(("..", "shared"))
    offending = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the working tree
        if outside in text:
            offending.append(str(path.relative_to(ROOT)))
    assert offending == []


def test_the_readme_links_the_architecture_and_the_glossary() -> None:
    readme = (ROOT / "README.md").read_text()
    for document in ("docs/architecture.md", "docs/glossary.md"):
        assert f"]({document})" in readme
        assert (ROOT / document).is_file()


def _package_rows(text: str) -> dict[str, str]:
    """The package tables' rows (``| `db/` | … |``), by package."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].endswith("/`"):
            rows[cells[0].strip("`/")] = cells[1]
    return rows


def test_the_package_tables_match_the_tree() -> None:
    # Every top package has a row in the README and docs/architecture.md, and every domain package is named in its row.
    packages = {"db", "domain", "ingress", "workers", "ops"}
    domain_parts = sorted(path.parent.name for path in (ROOT / "domain").glob("*/__init__.py"))
    assert {"composition", "events", "scheduling"} <= set(domain_parts)
    for document in ("README.md", "docs/architecture.md"):
        rows = _package_rows((ROOT / document).read_text())
        assert packages <= set(rows), document
        assert [part for part in domain_parts if f"`{part}" not in rows["domain"]] == [], document
