"""`memwise demo`: the whole asset graph on the embedded offline sample, in a real instance."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.home import init_home
from memwise_assets.report.checks import CheckCounts, CheckResult, counts_by_asset, run_checks
from memwise_assets.report.collect import StepRecord, step_figures

DEMO_START = "2024-01"  # monthly partitions of daily_bars
DEMO_END = "2024-12"

# One run over a range of partitions: `dg.materialize` takes no partition range, so the run
# carries Dagster's range tags (the ones a single-run backfill sets; their values are part of
# the run's stored tags, so they are as stable as Dagster's storage). Written out here rather
# than imported from `dagster._core`, which is not public API.
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class AssetRow:
    """One line of the demo's closing table."""

    asset: str
    rows: int | None
    seconds: float
    increase_mb: float
    limit_mb: float
    within_limit: bool
    process_peak_mb: float
    checks: CheckCounts = field(default_factory=CheckCounts)


@dataclass(frozen=True)
class DemoResult:
    """What the demo built: one row per asset and every check evaluation of its runs."""

    rows: list[AssetRow]
    checks: list[CheckResult]
    run_ids: list[str]


def demo_home(explicit: str | None = None) -> Path:
    """$DAGSTER_HOME when set, else ./.memwise_home (created, absolute, with dagster.yaml)."""
    home = Path(explicit or os.environ.get("DAGSTER_HOME") or ".memwise_home").resolve()
    # Created and migrated under a lock: concurrent first demos must not race the migration.
    init_home(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _stage_config(
    run_config: Mapping[str, Any],
    selection: Sequence[str],
    assets: Sequence[dg.AssetsDefinition] = (),
) -> dict[str, Any]:
    """The part of the run config for the assets of one stage (Dagster refuses the others).

    Resources go to the stages whose assets use them (the universe: prices and company data).
    """
    ops = {k: v for k, v in (run_config.get("ops") or {}).items() if k in selection}
    used = {key for a in assets if a.key.to_user_string() in selection for key in _keys(a)}
    resources = {k: v for k, v in (run_config.get("resources") or {}).items() if k in used}
    return {
        **({"ops": ops} if ops else {}),
        **({"resources": resources} if resources else {}),
    }


def _keys(asset: dg.AssetsDefinition) -> set[str]:
    return set(asset.required_resource_keys)


def run_demo(
    home: Path,
    start: str = DEMO_START,
    end: str = DEMO_END,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable[..., AbstractContextManager[object]] | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> DemoResult:
    """Materialize every asset into `home`; return its rows and checks (raises on failure).

    `run_config` (the Launchpad's `ops:` layout) is checked before the first run starts.
    """
    # Imported here: DAGSTER_HOME must be set before the definitions pick their paths.
    from memwise_assets.compute.filings.landing import sample_landing_dir, scan_landing
    from memwise_assets.definitions import ASSETS, build_defs
    from memwise_assets.defs.config_registry import resource_classes
    from memwise_assets.defs.filings.edgar import EdgarResource
    from memwise_assets.defs.filings.partitions import filing_partitions
    from memwise_assets.defs.filings.resources import FilingsResource
    from memwise_assets.defs.pool_waits import watch_pool_waits
    from memwise_assets.defs.run_config import check_run_config

    check_run_config(run_config, ASSETS, resource_classes())
    # The demo reads its shipped filings wherever MEMWISE_LANDING_DIR points.
    # The SEC facts come from the offline sample: EDGAR is never asked, but the resource
    # needs a declared contact all the same.
    defs = build_defs(
        filings=FilingsResource(landing_dir=str(sample_landing_dir())),
        edgar=EdgarResource(user_agent="memwise demo (offline sample) demo@example.invalid"),
    )
    resources = defs.resources
    instance = dg.DagsterInstance.get()
    landed, _ = scan_landing(resources["filings"].landing)
    keys = [f.key for f in landed]
    instance.add_dynamic_partitions(filing_partitions.name, keys)

    stages: list[tuple[str, Sequence[str], dict[str, str]]] = [
        (
            "daily prices",
            ["daily_bars"],
            {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
        ),
        (
            "weekly features and labels",
            [
                "weekly_features",
                "daily_with_weekly_features",
                "weighted_labels",
                "intraday_bars",
                "intraday_labels",
            ],
            {},
        ),
        (
            "company data",
            ["company_profiles", "company_fundamentals", "daily_with_fundamentals"],
            {},
        ),
        (
            "SEC fundamentals",
            ["sec_fundamentals", "daily_with_sec_fundamentals"],
            {},
        ),
        (
            "SEC filing sections",
            ["sec_filing_sections"],
            {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
        ),
        ("filing features", ["filing_text_features", "daily_with_filing_features"], {}),
    ]
    rows: list[AssetRow] = []
    checks: list[CheckResult] = []
    run_ids: list[str] = []
    for title, selection, tags in stages:
        began = time.perf_counter()
        say(f"materializing {title}: {', '.join(selection)}")
        with (
            (progress or (lambda *_a, **_k: nullcontext()))(title, instance=instance),
            watch_pool_waits(instance, resources["memory"].home, say),
        ):
            result = dg.materialize(
                ASSETS,
                selection=selection,
                instance=instance,
                resources=resources,
                tags=tags,
                run_config=_stage_config(run_config or {}, selection, ASSETS),
                raise_on_error=True,
            )
        found = run_checks(instance, result.run_id)
        counts = counts_by_asset(found)
        say(
            f"  done in {time.perf_counter() - began:.1f} s (run {result.run_id[:8]}), "
            f"checks: {sum(r.passed for r in found)} of {len(found)} passed"
        )
        figures = _figures_by_asset(instance, result.run_id)
        rows += [_row(asset, figures, counts) for asset in selection]
        checks += found
        run_ids.append(result.run_id)
    return DemoResult(rows=rows, checks=checks, run_ids=run_ids)


def _figures_by_asset(instance: dg.DagsterInstance, run_id: str) -> dict[str, StepRecord]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100_000
    ).records
    return {figures.asset: figures for figures in step_figures(records).values()}


def _row(
    asset: str, figures: Mapping[str, StepRecord], counts: Mapping[str, CheckCounts]
) -> AssetRow:
    step = figures.get(asset)
    if step is None:
        raise RuntimeError(f"{asset} recorded no materialization with memwise figures")
    return AssetRow(
        asset=asset,
        rows=step.rows,
        seconds=step.seconds,
        increase_mb=step.rss_increase_mb,
        limit_mb=step.limit_mb,
        within_limit=step.within_limit,
        process_peak_mb=step.peak_rss_mb,
        checks=counts.get(asset, CheckCounts()),
    )


def format_table(rows: Sequence[AssetRow]) -> str:
    """The demo's closing table: the increase is what the limit bounds; process peak apart."""
    header = (
        f"{'asset':<26} {'rows':>6} {'seconds':>7} {'increase/limit MB':>17} {'within':<6} "
        f"{'checks':<16} {'process peak MB':>15}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        rows_text = "n/a" if r.rows is None else f"{r.rows:,}"
        lines.append(
            f"{r.asset:<26} {rows_text:>6} {r.seconds:>7.2f} "
            f"{f'{r.increase_mb:.0f} / {r.limit_mb:.0f}':>17} "
            f"{'yes' if r.within_limit else 'NO':<6} {str(r.checks):<16} {r.process_peak_mb:>15.0f}"
        )
    lines.append(
        "increase = RSS the step added above its start (the limit bounds it); "
        "process peak = whole process"
    )
    return "\n".join(lines)
