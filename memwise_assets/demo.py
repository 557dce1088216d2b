"""`memwise demo`: the whole asset graph on the embedded offline sample, in a real instance."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

DEMO_START = "2024-01"  # monthly partitions of daily_bars
DEMO_END = "2024-12"


@dataclass(frozen=True)
class AssetRow:
    """One line of the demo's closing table."""

    asset: str
    rows: int
    seconds: float
    peak_mb: float
    limit_mb: float
    within_limit: bool


def demo_home(explicit: str | None = None) -> Path:
    """$DAGSTER_HOME when set, else ./.memwise_home (created, absolute, with dagster.yaml)."""
    home = Path(explicit or os.environ.get("DAGSTER_HOME") or ".memwise_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        # An existing configuration is the user's; a new home gets memwise's.
        shipped = resources.files("memwise_assets") / "data" / "dagster.yaml"
        instance_yaml.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    return home


def run_demo(
    home: Path,
    start: str = DEMO_START,
    end: str = DEMO_END,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable[..., AbstractContextManager[object]] | None = None,
) -> list[AssetRow]:
    """Materialize every asset into `home`; return one row per asset (raises on failure)."""
    # Imported here: DAGSTER_HOME must be set before the definitions pick their paths.
    from memwise_assets.definitions import ASSETS, build_defs
    from memwise_assets.defs.filings.landing import scan_landing
    from memwise_assets.defs.filings.partitions import filing_partitions

    defs = build_defs()
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
            "SEC filing sections",
            ["sec_filing_sections"],
            {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
        ),
    ]
    rows: list[AssetRow] = []
    for title, selection, tags in stages:
        began = time.perf_counter()
        say(f"materializing {title}: {', '.join(selection)}")
        with (progress or (lambda *_a, **_k: nullcontext()))(title, instance=instance):
            result = dg.materialize(
                ASSETS,
                selection=selection,
                instance=instance,
                resources=resources,
                tags=tags,
                raise_on_error=True,
            )
        say(f"  done in {time.perf_counter() - began:.1f} s (run {result.run_id[:8]})")
        for asset in selection:
            rows.append(_row(result, asset))
    return rows


def _row(result: dg.ExecuteInProcessResult, asset: str) -> AssetRow:
    materializations = result.asset_materializations_for_node(asset)
    if not materializations:
        raise RuntimeError(f"{asset} produced no materialization")
    # A step's figures sit on its last partition, with the rows of all its partitions.
    meta = materializations[-1].metadata
    rows = int(meta.get("memwise/step_rows", meta["dagster/row_count"]).value)
    return AssetRow(
        asset=asset,
        rows=rows,
        seconds=float(meta["memwise/seconds"].value),
        peak_mb=float(meta["memwise/peak_rss_mb"].value),
        limit_mb=float(meta["memwise/limit_mb"].value),
        within_limit=bool(meta["memwise/within_limit"].value),
    )


def format_table(rows: Sequence[AssetRow]) -> str:
    """The demo's closing table."""
    header = f"{'asset':<28} {'rows':>9} {'seconds':>8} {'peak MB':>8} {'limit MB':>9} within"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.asset:<28} {r.rows:>9,} {r.seconds:>8.2f} {r.peak_mb:>8.0f} {r.limit_mb:>9.0f} "
            f"{'yes' if r.within_limit else 'NO'}"
        )
    return "\n".join(lines)
