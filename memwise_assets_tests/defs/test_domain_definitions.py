"""Per-domain definitions: each domain owns its assets, the top merges them with the platform's,
and every asset that opens a memory step declares the pool of its budget."""

from __future__ import annotations

import ast
import importlib

import dagster as dg
import pytest

from memwise_assets import definitions
from memwise_assets.defs import platform
from memwise_assets.defs.budgets import BUDGETS
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.table_asset import BUDGET_TAG, table_asset
from memwise_assets_tests.builders.modules import MODULES, PACKAGE

DOMAINS = ("prices", "weekly", "labels", "intraday", "filings", "company")


def _domain_defs(domain: str) -> dg.Definitions:
    return importlib.import_module(f"{PACKAGE}.defs.{domain}.definitions").defs


def _names(defs: dg.Definitions) -> dict[str, set[str]]:
    return {
        "assets": {a.key.to_user_string() for a in defs.assets or ()},  # type: ignore[union-attr]
        "jobs": {j.name for j in defs.jobs or ()},
        "schedules": {s.name for s in defs.schedules or ()},
        "sensors": {s.name for s in defs.sensors or ()},
        "resources": set(defs.resources or {}),
    }


def test_the_top_is_the_platform_and_the_domains_and_nothing_else() -> None:
    parts = [platform.build(), *(_domain_defs(d) for d in DOMAINS)]
    merged = _names(definitions.defs)
    for kind, names in merged.items():
        owned = [n for part in parts for n in _names(part)[kind]]
        assert sorted(owned) == sorted(names), f"{kind}: each owned once, none left out"
    assert merged["assets"] == {a.key.to_user_string() for a in definitions.ASSETS}
    assert definitions.defs.executor is not None


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_contributes_only_assets_it_defines(domain: str) -> None:
    package = f"{PACKAGE}.defs.{domain}."
    for asset in _domain_defs(domain).assets or ():
        module = asset.op.compute_fn.decorated_fn.__module__  # type: ignore[union-attr]
        assert module.startswith(package), f"{asset.key.to_user_string()} from {module}"


def test_build_defs_binds_the_resources_and_executor_it_is_given(tmp_path) -> None:
    memory = MemoryResource(home_dir=str(tmp_path))
    io_manager = ParquetIOManager(base_dir=str(tmp_path / "data"))
    executor = dg.in_process_executor
    built = definitions.build_defs(memory=memory, io_manager=io_manager, executor=executor)
    assert built.resources["memory"] is memory
    assert built.resources["io_manager"] is io_manager
    assert built.executor is executor
    assert built.resolve_job_def("daily_prices") is not None


def _asset_decorators() -> list[tuple[str, str, ast.Call]]:
    """(module, function, decorator call) of every asset function in defs/ that takes the
    memory resource (`table_asset(...)` or `dg.asset(...)`)."""
    found = []
    for name, path in MODULES.items():
        if not name.startswith(f"{PACKAGE}.defs."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            if "memory" not in {a.arg for a in node.args.args}:
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) in {
                    "table_asset",
                    "dg.asset",
                }:
                    found.append((name, node.name, decorator))
    return found


def test_every_asset_that_takes_a_memory_budget_names_its_pool() -> None:
    """`pool=`, or `budget=` to `table_asset`, which takes the budget's pool."""
    decorated = _asset_decorators()
    assert len(decorated) >= 12, [f for _, f, _ in decorated]
    missing = [
        f"{module}:{function}"
        for module, function, call in decorated
        if not {"pool", "budget"} & {k.arg for k in call.keywords}
    ]
    assert missing == []


@pytest.mark.parametrize("budget", sorted(BUDGETS))
def test_table_asset_takes_its_budgets_pool_unless_told_otherwise(budget: str) -> None:
    def toy() -> None: ...

    # A name with a column schema in defs/columns.py, which table_asset requires.
    named = {"name": "intraday_bars"}
    declared = table_asset("toy", budget=budget, **named)(toy)
    assert declared.op.pool == BUDGETS[budget].pool
    assert declared.op.tags[BUDGET_TAG] == budget
    assert table_asset("toy", budget=budget, pool="edgar", **named)(toy).op.pool == "edgar"
    with pytest.raises(ValueError, match="unknown memory budget"):
        table_asset("toy", budget=f"{budget}-typo")
