"""`memwise report` needs only the base install; bench's peers are exactly its `bench` extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "memwise_assets"
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _closure(start: list[Path]) -> set[str]:
    """Top-level third-party modules imported by `start` and the memwise modules it reaches."""
    seen: set[Path] = set()
    todo = list(start)
    outside: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            if module.split(".")[0] != "memwise_assets":
                outside.add(module.split(".")[0])
                continue
            # `memwise_assets.a.b` is a.b.py or a/b/__init__.py, and its packages' __init__s.
            parts = module.split(".")[1:]
            for depth in range(len(parts) + 1):
                base = PACKAGE.joinpath(*parts[:depth])
                todo += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return {m for m in outside if m not in sys.stdlib_module_names and m != "__future__"}


def _installed_by(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with their own dependencies."""
    todo, done = [_name(r) for r in requirements], set()
    while todo:
        dist = todo.pop()
        if dist in done:
            continue
        done.add(dist)
        try:
            requirements = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:  # a marker excludes it here (python_version)
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(_name(requirement))
    return done


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    owners = metadata.packages_distributions()
    return {m: {d.lower().replace("_", "-") for d in owners.get(m, [])} for m in modules}


def test_the_report_imports_only_what_the_base_install_brings() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    base = _installed_by(project["dependencies"])
    modules = _closure(sorted((PACKAGE / "report").glob("*.py")))
    assert "matplotlib" in modules  # the walk really reaches the plots
    uncovered = {m: d for m, d in _distributions(modules).items() if not d & base}
    assert not uncovered, f"report imports modules the base install lacks: {uncovered}"


def test_bench_checks_every_peer_of_the_bench_extra_before_starting() -> None:
    from memwise_assets.bench.runner import CASE_MODULES, PEERS

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    base = _installed_by(project["dependencies"])
    extra = {_name(r) for r in project["optional-dependencies"]["bench"]}
    for name in CASE_MODULES:
        modules = _closure([PACKAGE / "bench" / f"{name}.py"])
        needs = {m for m, d in _distributions(modules).items() if d and not d & base}
        assert needs <= set(PEERS.get(name, ())), f"bench {name} imports unchecked {needs}"
        assert {d for m in needs for d in _distributions({m})[m]} <= extra
