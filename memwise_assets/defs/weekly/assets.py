"""Weekly bars and features per symbol, and daily rows carrying them without look-ahead."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.holes import find_holes
from memwise_assets.compute.weekly import weekly_features as compute_features
from memwise_assets.defs.blocked import (
    attach_blocks,
    block_estimate_mb,
    plan_for,
    plan_metadata,
    sessions_of,
    weekly_blocks,
)
from memwise_assets.defs.resources import MemoryResource
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


@table_asset("weekly", reads={"daily_bars": _DAILY_COLUMNS}, check_specs=WEEKLY_CHECKS)
def weekly_features(
    context: dg.AssetExecutionContext,
    config: WeeklyFeaturesConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Weekly (W-FRI) bars and momentum, volatility, RSI, ATR and volume features per symbol."""
    sessions = sessions_of(daily_bars)
    estimate = block_estimate_mb(daily_bars, "weekly", memory.limit_for("weekly"))
    with memory.step(
        context, budget="weekly", input_mb=daily_bars.memory_mb, static_estimate_mb=estimate
    ) as step:
        plan = plan_for(step, daily_bars, "weekly")
        context.log.info(f"weekly_features by blocks: {plan.reason}")
        # Each row group decoded once, split into block files, not once per block it serves;
        # the weekly pass numbers rows by (symbol, week) and needs no sorted block.
        daily_bars.spill_into(step.cache_dir, ordered=False)
        tally = _WeeklyTally(config.price_field)

        def on_block(i: int, daily: pd.DataFrame, features: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}-of-{plan.blocks}")
            tally.add(daily, features, sessions)

        blocks = weekly_blocks(daily_bars, plan, config.price_field, sessions, on_block)
        yield dg.Output(Blocks(blocks, step=step, plan=plan_metadata(plan), summary=tally.metadata))
        if tally.holes:
            context.log.warning(f"daily_bars has {tally.holes} holes; windows restart after each")
        # Inside the step: the no-look-ahead check recomputed one block under the budget.
        yield from tally.check_results()


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


@table_asset("weekly", reads={"daily_bars": _DAILY_COLUMNS})
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
    estimate = block_estimate_mb(daily_bars, "weekly_attach", memory.limit_for("weekly"))
    with memory.step(
        context, budget="weekly", input_mb=input_mb, static_estimate_mb=estimate
    ) as step:
        plan = plan_for(step, daily_bars, "weekly_attach")
        context.log.info(f"daily_with_weekly_features by blocks: {plan.reason}")
        daily_bars.spill_into(step.cache_dir)  # each row group decoded once, not per block
        blocks = attach_blocks(
            daily_bars,
            weekly_features,
            plan,
            config.available,
            sessions,
            lambda i, _: step.mark(f"block-{i + 1}-of-{plan.blocks}"),
            max_age_days=config.max_age_days,
        )
        yield dg.Output(Blocks(blocks, step=step, plan=plan_metadata(plan)))
