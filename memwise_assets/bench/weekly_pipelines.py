"""The two whole pipelines the weekly bench times: memwise's, and polars `group_by_dynamic`.

They sit apart from the bench's driver (`bench.weekly`) so that the cold runner
(`bench.weekly_cold`), which the driver starts, can import them without importing the driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.compute.weekly.features import (
    FEATURE_COLUMNS,
    attach_weekly_features,
    weekly_features,
)

if TYPE_CHECKING:
    import polars as pl


def memwise_pipeline(daily: pd.DataFrame) -> pd.DataFrame:
    """memwise end to end as the assets run it: NYSE sessions (split at holes, unfinished
    week left out), weekly bars, features, attach; on `close`, as the peers."""
    sessions = nyse_sessions(daily["date"])
    features = weekly_features(daily, sessions=sessions)
    return attach_weekly_features(daily, features, FEATURE_COLUMNS, sessions=sessions)


def polars_bars(daily: pl.DataFrame) -> pl.DataFrame:
    """W-FRI weekly bars with `group_by_dynamic`: windows [Saturday, next Saturday)."""
    import polars as pl

    return (
        daily.sort("symbol", "date")
        .group_by_dynamic(
            "date", every="1w", offset="5d", closed="left", label="right", group_by="symbol"
        )
        .agg(
            pl.col("open").drop_nulls().first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.len().cast(pl.Int8).alias("n_days"),
        )
        # Labelled by the window's right edge, a Saturday: the week ends the day before.
        .with_columns((pl.col("date") - pl.duration(days=1)).alias("week_end"))
        .drop("date")
    )


def polars_features(bars: pl.DataFrame) -> pl.DataFrame:
    """The weekly features with polars window expressions over each symbol's weeks."""
    import polars as pl

    close, high, low, volume = (pl.col(c) for c in ("close", "high", "low", "volume"))
    prev_close = close.shift(1)
    d = close.diff()
    ag = d.clip(lower_bound=0).ewm_mean(alpha=1 / 14, adjust=False, min_samples=14)
    al = (-d).clip(lower_bound=0).ewm_mean(alpha=1 / 14, adjust=False, min_samples=14)
    true_range = pl.max_horizontal(high, prev_close) - pl.min_horizontal(low, prev_close)
    rsi = pl.when(al == 0).then(100.0).otherwise(100 - 100 / (1 + ag / al))
    exprs = [(close / close.shift(k) - 1).alias(f"ret_{k}w") for k in (1, 4, 13, 26, 52)]
    exprs += [
        (close / prev_close).log().rolling_std(13).alias("vol_13w"),
        rsi.alias("rsi_14w"),
        (true_range.rolling_mean(14) / close).alias("atr_14w"),
        ((high - low) / close).alias("range_1w"),
        ((volume - volume.rolling_mean(13)) / volume.rolling_std(13)).alias("volume_z_13w"),
        (close / high.rolling_max(52) - 1).alias("dist_52w_high"),
        (close.rolling_mean(4) / close.rolling_mean(13) - 1).alias("sma_ratio_4_13"),
    ]
    return bars.sort("symbol", "week_end").select(
        "symbol", "week_end", *[e.over("symbol") for e in exprs]
    )


def polars_pipeline(daily: pl.DataFrame) -> pl.DataFrame:
    """polars end to end: bars, features, and a backward as-of join, in input order."""
    features = polars_features(polars_bars(daily))
    rows = daily.with_row_index("_row").sort("date")
    attached = rows.join_asof(
        features.sort("week_end"), left_on="date", right_on="week_end", by="symbol",
        strategy="backward", check_sortedness=False,
    )  # fmt: skip
    return attached.sort("_row").drop("_row", "week_end")
