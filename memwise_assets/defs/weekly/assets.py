"""Weekly bars and features per symbol, and daily rows carrying them without look-ahead."""

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.series.holes import find_holes
from memwise_assets.compute.weekly.features import weekly_features as compute_features
from memwise_assets.defs.blocked import (
    attach_blocks,
    plan_for,
    plan_metadata,
    sessions_of,
    weekly_blocks,
)
from memwise_assets.defs.figures import block_metadata
from memwise_assets.defs.refresh import (
    REFRESH_KEY,
    Refresh,
    check_symbols,
    decide,
    fingerprint,
    month_inputs,
    split_day,
    stored_link,
)
from memwise_assets.defs.refresh_blocks import (
    WEEKLY_HISTORY_GAP,
    attach_full_parts,
    attach_tail_parts,
    full_manifest,
    refresh_estimate_mb,
    reused_parts,
    weekly_full_parts,
    weekly_tail_files,
    weekly_tail_parts,
)
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.step import StepMemory
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.table_asset import table_asset
from memwise_assets.defs.weekly.checks import (
    NO_DUPLICATE_WEEKS,
    NO_LOOK_AHEAD,
    WEEKLY_CHECKS,
    weekly_check_results,
)
from memwise_assets.defs.weekly.config import WeeklyAttachConfig, WeeklyFeaturesConfig

# adj_close for price_field: adj_close. The daily merge keeps it too (with the week_end it
# carries), so a reader can audit which week and which price stand behind each row.
_DAILY_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
_HOLES_SHOWN = 10
# The no-look-ahead check recomputes this many symbols of the first block, spread over it:
# recomputing the whole block took as long as the block itself (2 s of the step's 8.6 s at
# 1,000 tickers x 30 years), and a symbol's weeks never depend on other symbols.
_CHECKED_SYMBOLS = 64


def _hole_text(hole: Any) -> str:
    return (
        f"{hole.symbol}: {hole.missing_sessions} sessions missing between "
        f"{hole.last_before:%Y-%m-%d} and {hole.first_after:%Y-%m-%d}"
    )


@table_asset(
    "weekly", budget="weekly", reads={"daily_bars": _DAILY_COLUMNS}, check_specs=WEEKLY_CHECKS
)
def weekly_features(
    context: dg.AssetExecutionContext,
    config: WeeklyFeaturesConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Weekly (W-FRI) bars and momentum, volatility, RSI, ATR and volume features per symbol."""
    sessions = sessions_of(daily_bars)
    inputs = month_inputs(daily_bars)
    link = stored_link(daily_bars, context.asset_key.path)
    config_fp = fingerprint(["weekly", config.model_dump(), daily_bars.columns])
    refresh = decide(link, inputs, config_fp)
    if refresh.manifest is not None:
        since = pd.Timestamp(refresh.manifest["history_end"])
        refresh = check_symbols(refresh, daily_bars, since=since)
    context.log.info(f"weekly_features refresh: {refresh.text}")
    limit = memory.limit_for("weekly")
    estimate = refresh_estimate_mb(refresh, daily_bars, "weekly", limit)
    with memory.step(
        context, budget="weekly", input_mb=daily_bars.memory_mb, static_estimate_mb=estimate
    ) as step:
        tally = _WeeklyTally(config.price_field)

        def on_block(i: int, daily: pd.DataFrame, features: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}")
            tally.add(daily, features, sessions)

        parts, meta, manifest = _weekly_parts(
            context, step, daily_bars, refresh, inputs, config, config_fp, sessions, on_block
        )
        blocks = Blocks(parts, plan=meta, summary=tally.metadata, manifest=manifest)
        yield step.output(blocks)
        if tally.holes:
            context.log.warning(f"daily_bars has {tally.holes} holes; windows restart after each")
        # Inside the step: the no-look-ahead check recomputed one block under the budget.
        yield from tally.check_results()


def _weekly_parts(
    context: dg.AssetExecutionContext,
    step: StepMemory,
    daily_bars: StoredTable,
    refresh: Refresh,
    inputs: dict[str, str] | None,
    config: WeeklyFeaturesConfig,
    config_fp: str,
    sessions: pd.DatetimeIndex,
    on_block: Callable[[int, pd.DataFrame, pd.DataFrame], None],
) -> tuple[Iterable[Any], dict[str, Any], Callable[[], dict[str, Any]] | None]:
    """The weekly step's blocks by the path `refresh` chose, its plan's figures, its manifest."""
    if refresh.manifest is not None:
        manifest = {**refresh.manifest, "inputs": inputs}
        parts = (
            weekly_tail_parts(daily_bars, refresh, config.price_field, sessions, on_block)
            if refresh.path == "tail"
            else reused_parts(refresh)
        )
        blocks = len(manifest["blocks"])
        meta = block_metadata(blocks, manifest["largest_rows"], refresh.text)
        return parts, {**meta, REFRESH_KEY: refresh.text}, lambda: manifest
    plan = plan_for(step, daily_bars, "weekly")
    context.log.info(f"weekly_features by blocks: {plan.reason}")
    # Each row group decoded once, split into block files, not once per block it serves;
    # the weekly pass numbers rows by (symbol, week) and needs no sorted block.
    daily_bars.spill_into(step.cache_dir, ordered=False)
    meta = {**plan_metadata(plan), REFRESH_KEY: refresh.text}
    if inputs is None:
        return weekly_blocks(daily_bars, plan, config.price_field, sessions, on_block), meta, None
    split = split_day(inputs)
    history_end = split - WEEKLY_HISTORY_GAP
    names: list[str | None] = []
    parts = weekly_full_parts(
        daily_bars, plan, config.price_field, sessions, history_end, names, on_block
    )

    def manifest() -> dict[str, Any]:
        return full_manifest(
            config_fp,
            inputs,
            split,
            daily_bars,
            plan,
            names,
            history_end=str(history_end.date()),
            # A new id per full build: the daily merge's tail path needs the same history.
            history_id=uuid.uuid4().hex,
        )

    return parts, meta, manifest


class _WeeklyTally:
    """What the weekly step reports, summed over its blocks; the checks on its first block."""

    def __init__(self, price_field: str) -> None:
        self.price_field = price_field
        self.symbols = self.holes = self.duplicates = 0
        self.weeks: set[np.datetime64] = set()
        self.last_week: pd.Timestamp | None = None
        self.shown: list[str] = []
        self.look_ahead: dg.AssetCheckResult | None = None

    def add(self, daily: pd.DataFrame, features: pd.DataFrame, sessions: pd.DatetimeIndex) -> None:
        self.symbols += int(features["symbol"].nunique())
        self.weeks.update(features["week_end"].unique())
        if len(features):
            last = features["week_end"].max()
            self.last_week = last if self.last_week is None else max(self.last_week, last)
        holes = find_holes(daily, sessions)
        self.holes += len(holes)
        room = _HOLES_SHOWN - len(self.shown)
        self.shown += [_hole_text(h) for h in holes.head(max(room, 0)).itertuples()]
        self.duplicates += int(features.duplicated(["symbol", "week_end"]).sum())
        if self.look_ahead is None and len(features):

            def compute(part: pd.DataFrame) -> pd.DataFrame:
                return compute_features(part, price_field=self.price_field, sessions=sessions)

            sample_daily, sample_features = _sample(daily, features, _CHECKED_SYMBOLS)
            checked = weekly_check_results(sample_daily, sample_features, compute)
            self.look_ahead = next(iter(checked))

    def metadata(self) -> dict[str, object]:
        return {
            "memwise/price_field": self.price_field,
            "memwise/symbols": self.symbols,
            "memwise/weeks": len(self.weeks),
            "memwise/last_week_end": str(self.last_week.date()) if self.last_week else "none",
            "memwise/holes": self.holes,
            "memwise/holes_preview": "; ".join(self.shown) or "none",
        }

    def check_results(self) -> Iterator[dg.AssetCheckResult]:
        yield self.look_ahead or dg.AssetCheckResult(
            check_name=NO_LOOK_AHEAD, passed=True, metadata={"detail": "no rows to test"}
        )
        yield dg.AssetCheckResult(
            check_name=NO_DUPLICATE_WEEKS,
            passed=self.duplicates == 0,
            metadata={"duplicates": self.duplicates},
        )


def _sample(
    daily: pd.DataFrame, features: pd.DataFrame, count: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of `count` symbols spread evenly over the block (all when it has fewer)."""
    column = daily["symbol"]
    kind = column.dtype
    present = column.cat.categories if isinstance(kind, pd.CategoricalDtype) else column.unique()
    symbols = np.sort(np.asarray(present, dtype=object))
    if len(symbols) <= count:
        return daily, features
    chosen = symbols[np.linspace(0, len(symbols) - 1, count).round().astype(int)]
    return daily[daily["symbol"].isin(chosen)], features[features["symbol"].isin(chosen)]


@table_asset("weekly", budget="weekly", reads={"daily_bars": _DAILY_COLUMNS})
def daily_with_weekly_features(
    context: dg.AssetExecutionContext,
    config: WeeklyAttachConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
    weekly_features: StoredTable,
) -> Iterator[dg.Output]:
    """Daily rows with the features of each symbol's latest completed week, without look-ahead."""
    sessions = sessions_of(daily_bars)
    input_mb = daily_bars.memory_mb + weekly_features.memory_mb
    inputs = month_inputs(daily_bars)
    weekly = weekly_tail_files(weekly_features)
    config_fp = fingerprint(["attach", config.model_dump(), daily_bars.columns])
    link = stored_link(daily_bars, context.asset_key.path)
    refresh = _attach_refresh(decide(link, inputs, config_fp), weekly)
    refresh = check_symbols(refresh, daily_bars)
    context.log.info(f"daily_with_weekly_features refresh: {refresh.text}")
    limit = memory.limit_for("weekly")
    estimate = refresh_estimate_mb(refresh, daily_bars, "weekly_attach", limit)
    with memory.step(
        context, budget="weekly", input_mb=input_mb, static_estimate_mb=estimate
    ) as step:

        def on_block(i: int, _: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}")

        manifest: Callable[[], dict[str, Any]] | None = None
        if refresh.manifest is not None:
            assert weekly is not None
            kept = {**refresh.manifest, "inputs": inputs}
            manifest = lambda: kept  # noqa: E731
            tails = StoredTable(weekly_features.label, weekly[1], weekly_features.columns)
            parts: Iterable[Any] = (
                attach_tail_parts(
                    daily_bars,
                    tails,
                    refresh,
                    config.available,
                    sessions,
                    on_block,
                    max_age_days=config.max_age_days,
                )
                if refresh.path == "tail"
                else reused_parts(refresh)
            )
            meta = block_metadata(len(kept["blocks"]), kept["largest_rows"], refresh.text)
        else:
            plan = plan_for(step, daily_bars, "weekly_attach")
            context.log.info(f"daily_with_weekly_features by blocks: {plan.reason}")
            daily_bars.spill_into(step.cache_dir)  # each row group decoded once, not per block
            meta = plan_metadata(plan)
            if inputs is None:
                parts = attach_blocks(
                    daily_bars,
                    weekly_features,
                    plan,
                    config.available,
                    sessions,
                    on_block,
                    max_age_days=config.max_age_days,
                )
            else:
                split, names = split_day(inputs), []
                parts = attach_full_parts(
                    daily_bars,
                    weekly_features,
                    plan,
                    config.available,
                    sessions,
                    split,
                    names,
                    on_block,
                    max_age_days=config.max_age_days,
                )

                def manifest() -> dict[str, Any]:
                    history = weekly[0].get("history_id") if weekly else None
                    return full_manifest(
                        config_fp, inputs, split, daily_bars, plan, names, weekly_history=history
                    )

        meta[REFRESH_KEY] = refresh.text
        yield step.output(Blocks(parts, plan=meta, manifest=manifest))


def _attach_refresh(refresh: Refresh, weekly: tuple[dict, list] | None) -> Refresh:
    """A tail path of the daily merge also needs the weekly history it was built on, and
    every week its tail can carry in the weekly tail files."""
    if refresh.manifest is None:
        return refresh
    if weekly is None or refresh.manifest.get("weekly_history") != weekly[0].get("history_id"):
        return Refresh("full", "weekly_features was rebuilt in full since")
    history_end = pd.Timestamp(weekly[0]["history_end"])
    if history_end > pd.Timestamp(refresh.manifest["split"]) - WEEKLY_HISTORY_GAP:
        return Refresh("full", "weekly_features' tail starts after this split's weeks")
    if refresh.path == "tail" and not weekly[1]:
        return Refresh("full", "weekly_features has no tail files")
    return refresh
