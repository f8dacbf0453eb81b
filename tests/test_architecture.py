"""The layout is the architecture: rmcore's modules import downward only, and never in a cycle.

Layers, bottom up: the leaves every layer may use (codes, the exception, the active-context
registry, the Win32 types), the emulated registry, the session table, the world, the Win32
surface, then the edge (the Pythonic API, backends, testing tools, CLI). Imports inside
functions count too: a lazy import upward is still an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rmcore

PACKAGE = Path(rmcore.__file__).parent
LEAVES = {"rmcore.winerror", "rmcore._errors", "rmcore._active", "rmcore.win32._types"}
LAYERS = ("rmcore.registry_store", "rmcore.session", "rmcore.world", "rmcore.win32")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The rmcore modules *name* imports (a package when no module of that name exists)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target in MODULES and target != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    if name in LEAVES:
        return 0
    for index, prefix in enumerate(LAYERS, 1):
        if name == prefix or name.startswith(prefix + "."):
            return index
    return len(LAYERS) + 1


def test_the_graph_is_read() -> None:
    assert len(MODULES) > 50
    assert "rmcore.registry_store" in GRAPH["rmcore.session._table"] or any(
        target.startswith("rmcore.registry_store") for target in GRAPH["rmcore.session._table"]
    )


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _layer(target) > _layer(name)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    visiting: set[str] = set()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append([*path[path.index(name) :], name])
            return
        visiting.add(name)
        for target in sorted(GRAPH[name]):
            visit(target, [*path, name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])
    assert cycles == []


def test_the_leaves_import_nothing_above_them() -> None:
    for leaf in LEAVES:
        assert GRAPH[leaf] <= LEAVES, leaf
