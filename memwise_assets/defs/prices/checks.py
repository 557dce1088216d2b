"""Asset checks of `daily_bars`, evaluated on the frame the step produced."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg
import pandas as pd

NO_DUPLICATES = "no_duplicate_symbol_date"
OHLC_CONSISTENT = "ohlc_consistent"
NO_NAN_CLOSE = "no_nan_close"
TICKERS_ACCOUNTED = "tickers_present_or_reported"

PRICE_CHECKS = [
    dg.AssetCheckSpec(NO_DUPLICATES, asset="daily_bars", description="One row per symbol and day."),
    dg.AssetCheckSpec(
        OHLC_CONSISTENT, asset="daily_bars", description="low <= open, close <= high."
    ),
    dg.AssetCheckSpec(NO_NAN_CLOSE, asset="daily_bars", description="Every row has a close."),
    dg.AssetCheckSpec(
        TICKERS_ACCOUNTED,
        asset="daily_bars",
        description="Each requested ticker is present or reported failed.",
    ),
]


def price_check_results(
    frames: Iterable[pd.DataFrame], requested: Iterable[str], failed: Iterable[str]
) -> Iterator[dg.AssetCheckResult]:
    """The four price checks over the frames of one step (months: disjoint by date)."""
    dupes = n_bad = nan_close = 0
    present: set[str] = set()
    for frame in frames:
        if not len(frame):
            continue
        dupes += int(frame.duplicated(["symbol", "date"]).sum())
        low_end = frame[["open", "close"]].min(axis=1)
        high_end = frame[["open", "close"]].max(axis=1)
        n_bad += int((~((frame["low"] <= low_end) & (high_end <= frame["high"]))).sum())
        nan_close += int(frame["close"].isna().sum())
        present.update(frame["symbol"].astype(str).unique())
    yield dg.AssetCheckResult(
        check_name=NO_DUPLICATES, passed=dupes == 0, metadata={"duplicates": dupes}
    )
    yield dg.AssetCheckResult(
        check_name=OHLC_CONSISTENT, passed=n_bad == 0, metadata={"inconsistent_rows": n_bad}
    )
    yield dg.AssetCheckResult(
        check_name=NO_NAN_CLOSE, passed=nan_close == 0, metadata={"nan_close_rows": nan_close}
    )
    unaccounted = sorted({t.upper() for t in requested} - present - set(failed))
    yield dg.AssetCheckResult(
        check_name=TICKERS_ACCOUNTED,
        passed=not unaccounted,
        metadata={"unaccounted": ", ".join(unaccounted[:50]) or "none"},
    )
