"""The package's import graph, read from the source (ast): layers hold and nothing cycles.

Every import counts, also those inside functions (a lazy import that dodges a cycle is still a
cycle). `if TYPE_CHECKING:` blocks never run, so the layer rules leave them out, but a cycle
through them is still a cycle of the design: the cycle test counts them too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memwise_assets_tests.builders.modules import MODULES, PACKAGE, ROOT


def _runtime_nodes(tree: ast.AST, type_checking: bool = False) -> list[ast.AST]:
    """All nodes but those under `if TYPE_CHECKING:` (unless `type_checking`)."""
    found: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if (
            not type_checking
            and isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            stack.extend(node.orelse)
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str, type_checking: bool = False) -> set[str]:
    """Every module `name` imports (absolute names; `from a import b` counts `a.b` if a module).

    `type_checking` counts the imports under `if TYPE_CHECKING:` too.
    """
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree, type_checking):
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
# The same with the imports only type checkers read.
TYPED_GRAPH = {name: {m for m in imports_of(name, True) if m in MODULES} for name in MODULES}


def _in(name: str, *layers: str) -> bool:
    return any(name == f"{PACKAGE}.{x}" or name.startswith(f"{PACKAGE}.{x}.") for x in layers)


def _cycles(graph: dict[str, set[str]] = GRAPH) -> list[list[str]]:
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
        for w in graph[v]:
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_the_walk_sees_the_package() -> None:
    assert f"{PACKAGE}.definitions" in MODULES and f"{PACKAGE}.memory.ledger" in MODULES
    assert f"{PACKAGE}.defs.resources" in GRAPH[f"{PACKAGE}.definitions"]
    assert "dagster" in imports_of(f"{PACKAGE}.defs.resources")


def test_no_import_cycle_among_the_package_modules() -> None:
    assert _cycles() == []


def test_no_import_cycle_even_through_type_checking_imports() -> None:
    assert _cycles(TYPED_GRAPH) == []


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
    assert not [m for m in imports_of(f"{PACKAGE}.cli.demo") if m.startswith("dagster._")]


def test_demo_range_tags_are_dagsters() -> None:
    from dagster._core.storage import tags

    from memwise_assets.cli import demo

    assert demo.ASSET_PARTITION_RANGE_START_TAG == tags.ASSET_PARTITION_RANGE_START_TAG
    assert demo.ASSET_PARTITION_RANGE_END_TAG == tags.ASSET_PARTITION_RANGE_END_TAG


def test_no_module_of_the_package_is_over_400_lines() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}


# -- domains and the platform ------------------------------------------------------------
# The platform: the Dagster-side modules directly in defs/ (step, store, IO manager, budgets,
# config, recovery, scale); each folder of defs/ is a domain.
PLATFORM = sorted(n for n, p in MODULES.items() if p.parent == ROOT / "defs")
MUTATORS = {"append", "add", "clear", "extend", "pop", "popitem", "remove", "setdefault", "update"}


def _registries(name: str) -> list[str]:
    """Module-level names that a function of the module writes into: state shared by calls."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    top = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    written: set[str] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Global):
                written.update(node.names)
            target = node.value if isinstance(node, ast.Subscript | ast.Attribute) else None
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
                written.add(getattr(target, "id", ""))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in MUTATORS:
                    written.add(getattr(node.func.value, "id", ""))
    return sorted(top & written)


@pytest.mark.parametrize("name", PLATFORM)
def test_no_module_level_registry_in_the_platform(name: str) -> None:
    # Out of scope: memory/deadline.py's per-process table of armed signal timers and
    # defs/filings/worker.py's per-process worker pools (a domain's, not the platform's).
    assert _registries(name) == []


def test_the_registry_check_sees_a_registry() -> None:
    assert "_armed" in _registries(f"{PACKAGE}.memory.deadline")


def _domain(name: str, layer: str) -> str | None:
    """The domain package (defs/<d> or compute/<d>) a module belongs to, if any."""
    parts = name.split(".")
    if len(parts) < 3 or parts[1] != layer:
        return None
    package = f"{PACKAGE}.{layer}.{parts[2]}"
    return package if MODULES.get(package, ROOT).name == "__init__.py" else None


def test_each_defs_domain_imports_no_other_domain() -> None:
    crossings = sorted(
        f"{name} -> {m}"
        for name in MODULES
        if (mine := _domain(name, "defs"))
        for m in TYPED_GRAPH[name]
        if (theirs := _domain(m, "defs")) and theirs != mine
    )
    assert crossings == []


DOMAINS = sorted({d for n in MODULES if (d := _domain(n, "defs"))})
# The resource classes `build_defs` takes as arguments: the one reason the top reaches a
# domain module other than its definitions.
TOP_REACHES = {
    f"{PACKAGE}.defs.company.resources",
    f"{PACKAGE}.defs.filings.edgar",
    f"{PACKAGE}.defs.filings.resources",
}


def test_each_domain_contributes_its_own_definitions() -> None:
    assert len(DOMAINS) >= 6, DOMAINS
    assert [d for d in DOMAINS if f"{d}.definitions" not in MODULES] == []


def test_the_platform_imports_no_domain() -> None:
    reaching = sorted(
        f"{name} -> {m}" for name in PLATFORM for m in TYPED_GRAPH[name] if _domain(m, "defs")
    )
    assert reaching == []


def test_the_top_reaches_each_domain_through_its_definitions() -> None:
    top = f"{PACKAGE}.definitions"
    # `from <domain> import definitions` counts the package too: it runs only its __init__.
    reached = {m for m in TYPED_GRAPH[top] if _domain(m, "defs") and m not in DOMAINS}
    assert reached - TOP_REACHES == {f"{d}.definitions" for d in DOMAINS}
    assert TOP_REACHES <= reached, "a listed import is gone: drop it from TOP_REACHES"
    assert f"{PACKAGE}.defs.platform" in TYPED_GRAPH[top]


TESTS_ROOT = Path(__file__).parent


def test_no_test_module_imports_another_test_module() -> None:
    """Shared test data comes from `memwise_assets_tests/builders/` (or a helper module),
    never from a test module or a conftest: running one test file must not run another."""
    tests = TESTS_ROOT.parent
    found = []
    for path in TESTS_ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                leaf = name.rpartition(".")[2]
                if name.startswith(TESTS_ROOT.name) and (
                    leaf.startswith("test_") or leaf == "conftest"
                ):
                    found.append(f"{path.relative_to(tests)} imports {name}")
    # A test may start its own module in a fresh process (the kill and timeout tests).
    found = [f for f in found if Path(f.split(" imports ")[0]).stem != f.rpartition(".")[2]]
    assert found == []


# Compute packages that reach into another one's modules (not through its package): none left;
# a crossing a change must make is listed here with its reason.
KNOWN_COMPUTE_CROSSINGS: set[str] = set()


def test_compute_reaches_another_package_only_through_its_public_name() -> None:
    """`compute.<x>` imports `compute.<y>` (its package), not `compute.<y>.<module>`."""
    crossings = {
        f"{name.removeprefix(PACKAGE + '.')} -> {m.removeprefix(PACKAGE + '.')}"
        for name in MODULES
        if _in(name, "compute")
        for m in TYPED_GRAPH[name]
        if (theirs := _domain(m, "compute")) and m != theirs and _domain(name, "compute") != theirs
    }
    assert crossings - KNOWN_COMPUTE_CROSSINGS == set(), "new: import the package instead"
    assert KNOWN_COMPUTE_CROSSINGS - crossings == set(), "gone: drop them from the list"


# The shared tools of compute/ sit below the domains that use them: `http` (requests, pacing,
# Yahoo's errors) needs no other package, `series` (keys, holes, windows) only the NYSE
# calendar of `prices`; weekly and labels build on `series`, never the other way round.
SHARED_COMPUTE = {"http": set(), "series": {"prices"}}


@pytest.mark.parametrize("package", sorted(SHARED_COMPUTE))
def test_shared_compute_tools_import_no_domain(package: str) -> None:
    mine = f"{PACKAGE}.compute.{package}"
    reached = {
        theirs.rsplit(".", 1)[1]
        for name in MODULES
        if _domain(name, "compute") == mine
        for m in TYPED_GRAPH[name]
        if (theirs := _domain(m, "compute")) and theirs != mine
    }
    assert reached <= SHARED_COMPUTE[package]


def test_compute_holds_no_flat_module_of_one_of_its_packages() -> None:
    """A `weekly_cells.py` beside `compute/weekly/` is a part outside its concept."""
    packages = {p.name for p in (ROOT / "compute").iterdir() if (p / "__init__.py").is_file()}
    flat = [
        p.name
        for p in (ROOT / "compute").glob("*.py")
        if any(p.stem.startswith(f"{package}_") for package in packages)
    ]
    assert flat == []


def test_the_command_line_is_imported_only_by_the_entry_point() -> None:
    """cli/ drives the definitions, compute and memory; nothing below it imports it."""
    upward = sorted(
        name
        for name in MODULES
        if not _in(name, "cli") and any(_in(m, "cli") for m in TYPED_GRAPH[name])
    )
    assert upward == [f"{PACKAGE}.__main__"]


def test_no_module_re_exports_what_another_owns() -> None:
    """Only a package's `__init__` re-exports: elsewhere an unused import kept for importers
    (`# noqa: F401` on a `from ... import`) is a shim; importers import from the owner."""
    shims = []
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.ImportFrom) and "noqa: F401" in lines[node.lineno - 1]:
                shims.append(f"{name}:{node.lineno}")
    assert shims == []
