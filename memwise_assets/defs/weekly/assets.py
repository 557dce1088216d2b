"""Weekly bars and features per symbol, and daily rows carrying them without look-ahead."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from memwise_assets.compute.holes import find_holes, nyse_sessions
from memwise_assets.compute.weekly import attach_weekly_features
from memwise_assets.compute.weekly import weekly_features as compute_features
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.shared import frame_mb
from memwise_assets.defs.table_asset import table_asset
from memwise_assets.defs.weekly.checks import WEEKLY_CHECKS, weekly_check_results
from memwise_assets.defs.weekly.config import WeeklyAttachConfig, WeeklyFeaturesConfig

# adj_close for price_field: adj_close. The daily merge keeps it too (with the week_end it
# carries), so a reader can audit which week and which price stand behind each row.
_DAILY_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
_MERGED_COLUMNS = _DAILY_COLUMNS
_HOLES_SHOWN = 10


def _holes_metadata(daily: pd.DataFrame, sessions: pd.DatetimeIndex) -> dict[str, object]:
    holes = find_holes(daily, sessions)
    shown = [
        f"{h.symbol}: {h.missing_sessions} sessions missing between {h.last_before:%Y-%m-%d} and "
        f"{h.first_after:%Y-%m-%d}"
        for h in holes.head(_HOLES_SHOWN).itertuples()
    ]
    return {"memwise/holes": len(holes), "memwise/holes_preview": "; ".join(shown) or "none"}


@table_asset("weekly", reads={"daily_bars": _DAILY_COLUMNS}, check_specs=WEEKLY_CHECKS)
def weekly_features(
    context: dg.AssetExecutionContext,
    config: WeeklyFeaturesConfig,
    memory: MemoryResource,
    daily_bars: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Weekly (W-FRI) bars and momentum, volatility, RSI, ATR and volume features per symbol."""
    input_mb = frame_mb(daily_bars)
    sessions = nyse_sessions(daily_bars["date"])

    def compute(daily: pd.DataFrame) -> pd.DataFrame:
        return compute_features(daily, price_field=config.price_field, sessions=sessions)

    with memory.step(context, budget="weekly", input_mb=input_mb) as step:
        step.mark("input-loaded")
        features = compute(daily_bars)
        step.mark("features-complete")
        holes = _holes_metadata(daily_bars, sessions)
        if holes["memwise/holes"]:
            context.log.warning(
                f"daily_bars has {holes['memwise/holes']} holes; windows restart after each"
            )
        yield dg.Output(
            features,
            metadata={
                "memwise/symbols": int(features["symbol"].nunique()),
                "memwise/weeks": int(features["week_end"].nunique()),
                "memwise/price_field": config.price_field,
                "memwise/last_week_end": str(features["week_end"].max().date())
                if len(features)
                else "none",
                **holes,
            },
        )
        # Inside the step: the no-look-ahead check recomputes features under the budget.
        yield from weekly_check_results(daily_bars, features, compute)


@table_asset("weekly", reads={"daily_bars": _MERGED_COLUMNS})
def daily_with_weekly_features(
    context: dg.AssetExecutionContext,
    config: WeeklyAttachConfig,
    memory: MemoryResource,
    daily_bars: pd.DataFrame,
    weekly_features: pd.DataFrame,
) -> Iterator[dg.Output]:
    """Daily rows with the features of each symbol's latest completed week, without look-ahead."""
    input_mb = frame_mb(daily_bars) + frame_mb(weekly_features)
    sessions = nyse_sessions(daily_bars["date"])
    with memory.step(context, budget="weekly", input_mb=input_mb) as step:
        step.mark("input-loaded")
        attached = attach_weekly_features(
            daily_bars,
            weekly_features,
            available=config.available,
            sessions=sessions,
            week_end_column="week_end",
        )
        step.mark("attach-complete")
        yield dg.Output(attached)
