"""The layout keeps its rules: role packages, no import cycles, no reach-ins, modules one can hold in mind.

Read from the source (imports inside functions count too), so a lazy import cannot hide a cycle.
docs/ARCHITECTURE.md says what each package is for and what it may import.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import deskpi

PKG = Path(deskpi.__file__).resolve().parent
MAX_LINES = 700
MAX_TOP_LEVEL_MODULES = 4


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _target(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if MODULES[importer].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _owner(name: str) -> str:
    """The deskpi module that defines `name` (a module, or the module an attribute lives in)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    graph: dict[str, set[str]] = defaultdict(set)
    private = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                graph[name] |= {_owner(a.name) for a in node.names if a.name.split(".")[0] == "deskpi"}
            elif isinstance(node, ast.ImportFrom):
                module = _target(name, node)
                if module.split(".")[0] != "deskpi":
                    continue
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    graph[name].add(full if full in MODULES else _owner(module))
                    if alias.name.startswith("_") and not alias.name.startswith("__") and full not in MODULES:
                        private.append((name, module, alias.name))
    for name in graph:
        graph[name].discard(name)
    return graph, private


GRAPH, PRIVATE = _imports()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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

    nodes = set(graph) | {w for targets in graph.values() for w in targets}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * len(nodes)))
    try:
        for v in sorted(nodes):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(old)
    return found


def test_the_probe_sees_the_whole_package():
    # Guards the checks below: a probe that found nothing would pass them all.
    assert {"deskpi.core.motion.controller", "deskpi.daemon.root", "deskpi.cli.main"} <= set(MODULES)
    assert "deskpi.core.motion.controller" in GRAPH["deskpi.daemon.root"]


def test_no_module_imports_in_a_cycle_not_even_inside_a_function():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_takes_another_modules_private_names():
    assert PRIVATE == []


def test_deskpi_itself_holds_only_a_few_modules_beside_its_packages():
    top = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_small_enough_to_hold_in_mind(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it along its seams (limit {MAX_LINES})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_what_it_is_for(name):
    path = MODULES[name]
    if path.name == "__init__.py" and not path.read_text().strip():
        return                                 # an empty package marker has nothing to say
    assert ast.get_docstring(ast.parse(path.read_text())), f"{name}: no module docstring"


def test_the_pure_core_imports_only_itself_from_deskpi():
    outside = {(m, t) for m, targets in GRAPH.items() if m.startswith("deskpi.core")
               for t in targets if not t.startswith("deskpi.core")}
    assert outside == set()


def test_the_pin_adapters_never_reach_into_the_daemon_web_or_cli():
    bad = {(m, t) for m, targets in GRAPH.items() if m.startswith("deskpi.hw")
           for t in targets if t.startswith(("deskpi.daemon", "deskpi.webapp", "deskpi.cli"))}
    assert bad == set()


def test_the_status_command_reaches_the_daemon_without_the_motion_stack():
    reach, todo = set(), ["deskpi.daemon.client"]
    while todo:
        m = todo.pop()
        if m not in reach:
            reach.add(m)
            todo.extend(GRAPH.get(m, ()))
    assert not {m for m in reach if m.startswith(("deskpi.core", "deskpi.daemon.control"))}, reach
