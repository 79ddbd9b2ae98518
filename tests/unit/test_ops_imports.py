"""ops/ imports without circles: no module of it reaches itself again through its imports.

The layers contract in pyproject.toml orders ops/'s parts; this also covers modules inside one layer (the commands,
the harness), which that contract does not order among themselves."""

from __future__ import annotations

import grimp

from tests.support.import_graph import import_cycles


def test_ops_has_no_import_cycle() -> None:
    assert import_cycles("ops") == []


def test_no_command_imports_the_cli_that_registers_it() -> None:
    graph = grimp.build_graph("ops", include_external_packages=False)
    commands = sorted(m for m in graph.modules if m.startswith("ops.commands."))
    assert commands, "the commands were not found"
    assert [m for m in commands if "ops.cli" in graph.find_modules_directly_imported_by(m)] == []
