"""The package's import graph, read from the source with ``ast``: no cycles, and the layering holds.

Every ``import roster...`` counts, at module level or inside a function: a lazy import is still a
dependency, only a later one.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "roster"

#: Domain packages: they must run without Airflow (the CLI and the tests use them directly).
DOMAIN = ("config", "fast", "io", "rules", "night", "golive", "notify")
#: The bottom layer: they may import only each other.
BASE = ("roster.settings", "roster.errors")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every module named by an import statement anywhere in ``tree``, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            names.add(stem)
            # `from roster.io import store` names the module roster.io.store.
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return names


@cache
def graph() -> dict[str, set[str]]:
    """Module -> the roster modules it imports (and everything else it imports, under key ``*``)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p): p for p in paths}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported = _imported(tree, name, path.name == "__init__.py")
        edges[name] = {m for m in imported if m in modules and m != name}
        edges[name] |= {"*" + m for m in imported if m.split(".")[0] == "devtools"}
    return edges


def _roster_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if not t.startswith("*")} for m, targets in edges.items()}


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per tangle: find a cycle, report it, drop its modules' edges among them, repeat."""
    remaining = {m: set(targets) for m, targets in edges.items()}
    found = []
    while cycle := _find_cycle(remaining):
        found.append(cycle)
        members = set(cycle)
        for module in members:
            remaining[module] -= members
    return found


def test_the_graph_sees_the_package():
    edges = graph()
    assert "roster.cli" in edges
    assert "roster.airflow.nightly" in edges
    assert "roster.config.district" in edges["roster.config"]  # the package re-exports its modules


def test_no_import_cycles():
    cycles = [" -> ".join(cycle) for cycle in _cycles(_roster_edges(graph()))]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_nothing_in_the_product_imports_devtools():
    offenders = sorted(m for m, targets in graph().items() if any(t.startswith("*devtools") for t in targets))
    assert offenders == []


def test_the_domain_never_imports_airflow_layer():
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if module.split(".")[1:2] and module.split(".")[1] in DOMAIN
        for target in targets
        if target == "roster.airflow" or target.startswith("roster.airflow.")
    )
    assert offenders == []


def test_settings_and_errors_import_nothing_of_roster_but_each_other():
    offenders = sorted(
        f"{module} -> {target}"
        for module in BASE
        for target in graph()[module]
        if target not in BASE and not target.startswith("*")
    )
    assert offenders == []


def test_the_cycle_finder_reports_every_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d", "a"}, "f": {"a"}}
    assert _cycles(edges) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
