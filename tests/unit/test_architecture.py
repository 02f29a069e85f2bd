"""The layers hold: the contracts in pyproject run in `make test`; these check what the
contracts cannot say (no cycle between any two modules, the simulator's one door)."""

from __future__ import annotations

import subprocess

import grimp
from support.plans import ROOT


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), every import counted, even one made
    inside a function: a lazy import is still an arrow."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while (top := stack.pop()) != module:
                group.append(top)
            group.append(module)
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_module_imports_itself_back_through_others() -> None:
    graph = grimp.build_graph("cockpit", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.c", imported="a.d")
    assert _cycles(graph) == [["a.b", "a.c"]]


def test_only_the_simulator_and_the_session_estate_name_the_simulator() -> None:
    found = subprocess.run(["grep", "-rlnF", "cockpit.sim", "cockpit"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.split()
    outside = sorted(p for p in found if not p.startswith("cockpit/sim/")
                     and not p.endswith(".pyc"))
    assert outside == ["cockpit/session/estate.py"]
