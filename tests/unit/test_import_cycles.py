"""No import cycle anywhere: inside each top package, and across them (function-level imports count too).

The layers contracts order the packages and the parts of domain/ and ops/; this covers the modules one layer holds
(the parts of a domain module, the ingress resources, the workers), which no contract orders among themselves.
"""

from __future__ import annotations

import grimp
import pytest

from tests.support.import_graph import import_cycles

PACKAGES = ("ops", "ingress", "workers", "domain", "db")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside(package: str) -> None:
    assert import_cycles(package) == []


def test_no_import_cycle_across_the_packages() -> None:
    assert import_cycles(*PACKAGES) == []


def test_the_cycle_finder_sees_the_whole_tree() -> None:
    # Not vacuous: the graph holds the modules this restructuring is about, and their edges.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    assert {"domain.composition.bookings", "domain.scheduling.service", "workers.bootstrap"} <= graph.modules
    assert "domain.scheduling.service" in graph.find_modules_directly_imported_by("domain.composition.bookings")
