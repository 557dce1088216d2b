"""After `memwise demo`: every asset's step metadata is exactly what StepFigures declares and
what the report reads, written once per step, the step ran in its budget's pool, and the
Dagster UI plots the step's increase beside its limit."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from memwise_assets.definitions import ASSETS
from memwise_assets.defs.budgets import BUDGETS
from memwise_assets.defs.figures import (
    INCREASE_KEY,
    KEYS,
    LIMIT_KEY,
    PEAK_KEY,
    READ_ONLY_KEYS,
    StepFigures,
)
from memwise_assets.defs.table_asset import BUDGET_TAG
from memwise_assets.report.collect import collect
from memwise_assets_tests.e2e.browser import CHROMIUM, open_page
from memwise_assets_tests.e2e.helpers import free_port, graphql, run_cli, serving, tool

pytestmark = pytest.mark.e2e
NAMES = sorted(key.to_user_string() for asset in ASSETS for key in asset.keys)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Dagster home after `memwise demo` (two months of sample prices, every asset)."""
    home = tmp_path_factory.mktemp("glance") / "home"
    done = run_cli([tool("memwise"), "demo", "--start", "2024-11", "--end", "2024-12"], home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def _step_metadata(instance: dg.DagsterInstance, name: str) -> dict[str, dg.MetadataValue]:
    """The metadata of the asset's latest materialization that carries its step's figures."""
    records = instance.fetch_materializations(dg.AssetKey(name), limit=200).records
    carrying = [r for r in records if PEAK_KEY in r.asset_materialization.metadata]
    assert carrying, f"{name}: no materialization carries the step's figures"
    return dict(carrying[0].asset_materialization.metadata)


def test_every_asset_writes_what_step_figures_declares_and_the_report_reads_it(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(demo_home))  # the home's dagster.yaml reads it
    with dg.DagsterInstance.from_config(str(demo_home)) as instance:
        report = collect(instance, limit=5, memwise_dir=demo_home / "memwise")
        for name in NAMES:
            meta = _step_metadata(instance, name)
            figures = StepFigures.from_metadata(meta)
            assert figures is not None
            step_keys = {k for k in meta if k in KEYS | READ_ONLY_KEYS}
            assert step_keys == set(figures.to_metadata()), f"{name}: {step_keys ^ KEYS}"
            assert StepFigures.REQUIRED_KEYS <= step_keys
            assert not step_keys & READ_ONLY_KEYS, f"{name} writes pre-grouping keys"
            grouped = {k for k in meta if k.startswith("memwise/memory/")}
            assert grouped <= KEYS, f"{name}: undeclared memory keys {grouped - KEYS}"
            shown = report.assets[name][-1]
            for field in fields(StepFigures):
                assert getattr(shown, field.name) == getattr(figures, field.name), (
                    f"{name}: the report reads {field.name} differently"
                )
    assert list(report.assets)[0] in {"company_fundamentals", "company_profiles", "daily_bars"}


# Assets whose pool is not their memory budget's: the SEC facts download is bound by EDGAR's
# request rate, so it takes the EDGAR job's pool (one at a time) under the prices budget.
PACED_POOLS = {"sec_fundamentals": "edgar"}


def test_each_step_writes_its_figures_once_and_runs_in_its_budgets_pool(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(demo_home))
    pools = {key.to_user_string(): asset.op.pool for asset in ASSETS for key in asset.keys}
    declared = {
        key.to_user_string(): asset.op.tags.get(BUDGET_TAG)
        for asset in ASSETS
        for key in asset.keys
    }
    with dg.DagsterInstance.from_config(str(demo_home)) as instance:
        report = collect(instance, limit=5, memwise_dir=demo_home / "memwise")
        for name in NAMES:
            records = instance.fetch_materializations(dg.AssetKey(name), limit=1000).records
            steps: dict[tuple[str, str], list[dict[str, dg.MetadataValue]]] = {}
            for r in records:
                key = (r.run_id, r.event_log_entry.step_key or "")
                steps.setdefault(key, []).append(dict(r.asset_materialization.metadata))
            budgets = set()
            for step, partitions in steps.items():
                carrying = [m for m in partitions if StepFigures.from_metadata(m) is not None]
                assert len(carrying) == 1, f"{name} {step}: figures on {len(carrying)} events"
                others = [sorted(set(m) & (KEYS | READ_ONLY_KEYS)) for m in partitions]
                assert sum(bool(keys) for keys in others) == 1, f"{name}: step keys copied"
                figures = StepFigures.from_metadata(carrying[0])
                assert figures is not None
                budgets.add(figures.timeout_inputs.get("budget"))
            shown = [s for s in report.assets[name] if (s.run_id, s.step_key) in steps]
            assert len(shown) == len(steps), f"{name}: the report shows one row per step"
            for row in shown:
                assert row.partitions == len(steps[row.run_id, row.step_key]), name
            [budget] = budgets
            assert budget in BUDGETS, f"{name}: step ran under {budget!r}"
            assert declared[name] in {None, budget}, f"{name} declares {declared[name]}"
            expected = PACED_POOLS.get(name, BUDGETS[budget].pool)
            assert pools[name] == expected, f"{name}: pool {pools[name]}, budget {budget}"


@pytest.fixture(scope="module")
def webserver(demo_home: Path) -> Iterator[int]:
    """`dagster-webserver` alone (no daemon) on a free port, over the demo's home."""
    port = free_port()
    args = [tool("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
    with serving([*args, "-m", "memwise_assets.definitions"], demo_home, port, "webserver.log"):
        # The UI opens a one-time "join the community" dialog over the page; mark it seen.
        graphql(port, "mutation { setNuxSeen }", {})
        yield port


PLOTS_BUTTON = (
    "[...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Plots')"
)
# The plots' titles: leaf elements whose text is a metadata key, in page order.
PLOT_TITLES = (
    "[...document.querySelectorAll('div,span')].filter(e => e.children.length === 0 && "
    "/^(memwise|dagster)\\//.test(e.textContent.trim())).map(e => e.textContent.trim())"
)


def test_the_dagster_ui_plots_the_steps_increase_beside_its_limit(
    webserver: int, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} absent (apt-get install -y chromium)")
    url = f"http://127.0.0.1:{webserver}/assets/daily_bars"
    with open_page(url, tmp_path / "profile") as page:
        page.wait_for(f"!!{PLOTS_BUTTON}")
        page.run(f"{PLOTS_BUTTON}.click()")
        page.wait_for("document.querySelectorAll('canvas').length >= 8")
        titles = page.run(PLOT_TITLES)
        # Scroll the memory group into view and let the charts draw.
        page.run(
            "[...document.querySelectorAll('div,span')].find(e => e.children.length === 0 && "
            f"e.textContent.trim() === '{INCREASE_KEY}').scrollIntoView()"
        )
        time.sleep(2)
        shot = page.screenshot(tmp_path / "daily_bars_plots.png")
    keep = os.environ.get("MEMWISE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
    assert titles == sorted(titles), "the UI sorts its plots by key"
    assert titles[titles.index(INCREASE_KEY) + 1] == LIMIT_KEY, titles
    # The step's figures are 12 plots (the grouped four, the four flat contract keys beside
    # them, peak RSS, input, seconds, timeout) plus the block plan's two; the rest are the
    # partition's and the source's own.
    step_plots = [t for t in titles if t in KEYS]
    assert len(step_plots) <= 14, f"{len(step_plots)} step plots: {step_plots}"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    # Chart lines and points are saturated blue; text and grid lines are grey.
    saturated = float((pixels.max(axis=2) - pixels.min(axis=2) > 80).mean())
    assert saturated > 0.0005, f"no plot drawn: {saturated:.4%} saturated pixels"
