"""Weekly bars and features per symbol, and daily rows carrying them without look-ahead."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from memwise_assets.compute.weekly import attach_weekly_features
from memwise_assets.compute.weekly import weekly_features as compute_features
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.resources import MemoryResource, frame_mb
from memwise_assets.defs.weekly.checks import WEEKLY_CHECKS, weekly_check_results

_DAILY_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]


@dg.asset(
    group_name="weekly",
    ins={"daily_bars": dg.AssetIn(metadata={"columns": _DAILY_COLUMNS})},
    check_specs=WEEKLY_CHECKS,
    kinds={"pandas", "parquet"},
    metadata=column_metadata("weekly_features"),
)
def weekly_features(
    context: dg.AssetExecutionContext, memory: MemoryResource, daily_bars: pd.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Weekly (W-FRI) bars and momentum, volatility, RSI, ATR and volume features per symbol."""
    input_mb = frame_mb(daily_bars)
    with memory.step(context, budget="weekly", input_mb=input_mb) as step:
        step.mark("input-loaded")
        features = compute_features(daily_bars)
        step.mark("features-complete")
        yield dg.Output(
            features,
            metadata={
                "memwise/symbols": int(features["symbol"].nunique()),
                "memwise/weeks": int(features["week_end"].nunique()),
            },
        )
        # Inside the step: the no-look-ahead check recomputes features under the budget.
        yield from weekly_check_results(daily_bars, features, compute_features)


@dg.asset(
    group_name="weekly",
    ins={"daily_bars": dg.AssetIn(metadata={"columns": _DAILY_COLUMNS})},
    kinds={"pandas", "parquet"},
    metadata=column_metadata("daily_with_weekly_features"),
)
def daily_with_weekly_features(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    daily_bars: pd.DataFrame,
    weekly_features: pd.DataFrame,
) -> Iterator[dg.Output]:
    """Daily rows with the features of each symbol's latest completed week (week_end <= date)."""
    input_mb = frame_mb(daily_bars) + frame_mb(weekly_features)
    with memory.step(context, budget="weekly", input_mb=input_mb) as step:
        step.mark("input-loaded")
        attached = attach_weekly_features(daily_bars, weekly_features)
        step.mark("attach-complete")
        yield dg.Output(attached)
