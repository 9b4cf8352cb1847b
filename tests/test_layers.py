"""The code is laid out one way: no import cycle between packages, nor between modules.

A package here is ``workflows``, ``exports``, and each module or package directly under
``grants`` or ``grants.http``; ``grants.app`` and ``grants.cli`` are the composition root and may
import anything (``grants/__init__`` imports nothing, so any module can be imported first). The
layers themselves are import-linter contracts in ``pyproject.toml``, checked here too.

An import under ``TYPE_CHECKING`` is a type only (the actor of an audit event is a ``User``) and
never runs: it is not a dependency. Importing each module first, alone, proves none hides one.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grants", "workflows", "exports")
COMPOSITION_ROOT = {"grants", "grants.app", "grants.cli"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def node(module: str) -> str:
    """The package a module counts for (see the module docstring)."""
    parts = module.split(".")
    if parts[0] != "grants" or module in COMPOSITION_ROOT:
        return parts[0] if parts[0] != "grants" else module
    if parts[1] == "http" and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def edges_of(graph: grimp.ImportGraph, key: Iterable[str] | None = None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = (module, imported) if key is None else (node(module), node(imported))
            if a != b and not (key is not None and a in COMPOSITION_ROOT):
                out.setdefault(a, set()).add(b)
    return out


def all_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" not in info.name:  # Alembic's env.py runs only inside Alembic
                names.append(info.name)
    return names


def import_alone(module: str) -> str | None:
    """Import ``module`` first thing in a fresh interpreter; the error, if any."""
    code = f"import {module}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return None if result.returncode == 0 else result.stderr.strip().splitlines()[-1]


def test_every_module_imports_first():
    """Each module imported first, in an interpreter of its own, works: no cycle is hidden by
    the order in which modules happen to be imported."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = dict(zip(MODULES, pool.map(import_alone, MODULES), strict=True))
    broken = {m: e for m, e in errors.items() if e}
    assert broken == {}, broken


def test_no_import_cycle_between_packages(graph):
    found = cycles(edges_of(graph, key=node))
    assert found == [], "packages that import each other: " + "; ".join(map(" ⇄ ".join, found))


def test_no_import_cycle_between_modules(graph):
    found = cycles(edges_of(graph))
    assert found == [], "modules that import each other: " + "; ".join(map(" ⇄ ".join, found))


def test_the_layer_contracts_hold():
    """The contracts of ``[tool.importlinter]``, by ``lint-imports`` in a process of its own.

    (In this process its logging set-up would silence every logger created before it.)
    """
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_cycle_finder_finds_a_cycle():
    """The checks above can fail: the finder sees a cycle when there is one."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert node("grants.http.grant.api") == "grants.http.grant"
    assert node("grants.reports.services") == "grants.reports"


MODULES = all_modules()
