"""The package's import graph, read from the source (ast): layers hold and nothing cycles.

Every import counts, also those inside functions (a lazy import that dodges a cycle is still a
cycle); only `if TYPE_CHECKING:` blocks are left out, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import memwise_assets

ROOT = Path(memwise_assets.__file__).parent
PACKAGE = "memwise_assets"


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """All nodes but those under `if TYPE_CHECKING:`."""
    found: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str) -> set[str]:
    """Every module `name` imports (absolute names; `from a import b` counts `a.b` if a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(
                f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES
            )
    return found


GRAPH = {name: {m for m in imports_of(name) if m in MODULES} for name in MODULES}


def _in(name: str, *layers: str) -> bool:
    return any(name == f"{PACKAGE}.{x}" or name.startswith(f"{PACKAGE}.{x}.") for x in layers)


def _cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return groups


def test_the_walk_sees_the_package() -> None:
    assert f"{PACKAGE}.definitions" in MODULES and f"{PACKAGE}.memory.ledger" in MODULES
    assert f"{PACKAGE}.defs.resources" in GRAPH[f"{PACKAGE}.definitions"]
    assert "dagster" in imports_of(f"{PACKAGE}.defs.resources")


def test_no_import_cycle_among_the_package_modules() -> None:
    assert _cycles() == []


def test_definitions_is_imported_by_nothing_in_defs() -> None:
    upward = [n for n in MODULES if _in(n, "defs") and f"{PACKAGE}.definitions" in GRAPH[n]]
    assert upward == []


def test_compute_and_memory_import_no_dagster() -> None:
    offenders = {
        name: sorted(m for m in imports_of(name) if m.split(".")[0] == "dagster")
        for name in MODULES
        if _in(name, "compute", "memory")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_memory_and_compute_do_not_import_each_other_or_defs() -> None:
    wrong = {
        name: sorted(
            m for m in GRAPH[name] if _in(m, "defs", "compute" if _in(name, "memory") else "memory")
        )
        for name in MODULES
        if _in(name, "compute", "memory")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_demo_uses_no_private_dagster_module() -> None:
    assert not [m for m in imports_of(f"{PACKAGE}.demo") if m.startswith("dagster._")]


def test_demo_range_tags_are_dagsters() -> None:
    from dagster._core.storage import tags

    from memwise_assets import demo

    assert demo.ASSET_PARTITION_RANGE_START_TAG == tags.ASSET_PARTITION_RANGE_START_TAG
    assert demo.ASSET_PARTITION_RANGE_END_TAG == tags.ASSET_PARTITION_RANGE_END_TAG


def test_no_module_of_the_package_is_over_400_lines() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}
