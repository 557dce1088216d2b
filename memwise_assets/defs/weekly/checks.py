"""Asset checks of `weekly_features`: no look-ahead, no duplicate weeks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import numpy as np
import pandas as pd

NO_LOOK_AHEAD = "no_look_ahead"
NO_DUPLICATE_WEEKS = "no_duplicate_symbol_week"

WEEKLY_CHECKS = [
    dg.AssetCheckSpec(
        NO_LOOK_AHEAD,
        asset="weekly_features",
        description="Recomputing on data truncated at a recent date gives identical features "
        "for every week that ended by then.",
    ),
    dg.AssetCheckSpec(
        NO_DUPLICATE_WEEKS, asset="weekly_features", description="One row per symbol and week."
    ),
]


def weekly_check_results(
    daily: pd.DataFrame,
    features: pd.DataFrame,
    compute: Callable[[pd.DataFrame], pd.DataFrame],
    seed: int = 0,
) -> Iterator[dg.AssetCheckResult]:
    """Both weekly checks; the truncation date is drawn from the last quarter of the data."""
    dates = np.sort(pd.to_datetime(daily["date"]).unique())
    if len(dates) >= 8:
        rng = np.random.default_rng(seed)
        cut = pd.Timestamp(dates[rng.integers(int(len(dates) * 0.75), len(dates) - 1)])
        truncated = compute(daily[pd.to_datetime(daily["date"]) <= cut])
        # Weeks ending by the cut are complete in both; later weeks legitimately differ.
        keys = ["symbol", "week_end"]
        full = features[features["week_end"] <= cut].sort_values(keys).reset_index(drop=True)
        part = truncated[truncated["week_end"] <= cut].sort_values(keys).reset_index(drop=True)
        full["symbol"] = full["symbol"].astype(str)
        part["symbol"] = part["symbol"].astype(str)
        try:
            pd.testing.assert_frame_equal(full, part, check_dtype=False, check_categorical=False)
            same, detail = True, "identical"
        except AssertionError as exc:
            same, detail = False, str(exc)[:500]
        yield dg.AssetCheckResult(
            check_name=NO_LOOK_AHEAD,
            passed=same,
            metadata={"cut_date": str(cut.date()), "weeks_compared": len(full), "detail": detail},
        )
    else:
        yield dg.AssetCheckResult(
            check_name=NO_LOOK_AHEAD, passed=True, metadata={"detail": "too few days to test"}
        )
    dupes = int(features.duplicated(["symbol", "week_end"]).sum())
    yield dg.AssetCheckResult(
        check_name=NO_DUPLICATE_WEEKS, passed=dupes == 0, metadata={"duplicates": dupes}
    )
