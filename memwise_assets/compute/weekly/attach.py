"""Daily rows carrying the features of their symbol's latest available week, without look-ahead."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.series import (
    as_float64,
    chunks,
    day_numbers,
    in_parallel,
    key_rows,
    release_freed,
    require_columns,
    require_numeric,
    segment_start_days,
    small_pages,
    symbol_codes,
)

# 1970-01-02, day 1 since the epoch, was a Friday.
_FRIDAY = 1
# same_close: a week is known at the close of its Friday (week_end <= date);
# next_session: from the next session on (week_end < date).
AVAILABILITY: tuple[str, ...] = ("same_close", "next_session")


def _latest_rows(
    d_codes: np.ndarray,
    d_days: np.ndarray,
    f_codes: np.ndarray,
    f_days: np.ndarray,
    f_rows: np.ndarray,
    n_codes: int,
) -> np.ndarray:
    """Per daily row, the feature row of its symbol's latest week_end <= date, or -1.

    Features sorted by (code, day). When every week_end is a Friday and the symbol x week
    grid is no bigger than the daily rows, a forward-filled grid answers each row with one
    lookup; otherwise a binary search on (code, day) keys does.
    """
    if not len(f_days) or not len(d_days):
        return np.full(len(d_days), -1, dtype=np.int64)
    first_week = int(f_days.min())
    n_weeks = (int(f_days.max()) - first_week) // 7 + 1
    if n_codes * n_weeks <= len(d_days) and bool(np.all((f_days - _FRIDAY) % 7 == 0)):
        # Column 0 of each symbol answers the dates before its first week: -1.
        width = n_weeks + 1
        grid = np.full(n_codes * width, -1, dtype=np.int64)
        ranks = np.arange(len(f_days))
        grid[f_codes.astype(np.int64) * width + (f_days - first_week) // 7 + 1] = ranks
        # Rows of a symbol are in week order, so a running max is its forward fill.
        filled = grid.reshape(n_codes, width)
        np.maximum.accumulate(filled, axis=1, out=filled)
        if not np.array_equal(f_rows, ranks):
            grid = np.where(grid >= 0, f_rows[np.maximum(grid, 0)], -1)
        # Whole weeks since the first Friday: the Friday on or before each date, as a week
        # number (-1: before the first week).
        take = d_codes.astype(np.int64)
        take *= width
        for part in chunks(len(take)):
            week = d_days[part] - first_week
            np.floor_divide(week, 7, out=week)
            np.clip(week, -1, n_weeks - 1, out=week)
            take[part] += week
        take += 1
        np.take(grid, take, out=take, mode="clip")  # "raise" would buffer a copy of `out`
        return take
    base = min(int(d_days.min()), int(f_days.min()))
    span = max(int(d_days.max()), int(f_days.max())) - base + 1
    f_key = f_codes.astype(np.int64) * span + (f_days - base)
    # In place: the daily-length temporaries are what bound the peak here.
    take = d_codes.astype(np.int64)
    take *= span
    take += d_days
    take -= base
    take = np.searchsorted(f_key, take, side="right")
    take -= 1
    found = take >= 0
    np.maximum(take, 0, out=take)
    found &= f_codes[take] == d_codes
    np.take(f_rows, take, out=take, mode="wrap")
    take[~found] = -1
    return take


def _gather(columns: list[np.ndarray], take: np.ndarray, block: np.ndarray) -> None:
    """block[i] = columns[i][take], NaN where take is -1."""
    missing = np.flatnonzero(take < 0)

    def fill(i: int) -> Callable[[], None]:
        def run() -> None:
            # mode="clip" spares the temporary copy of the output that the default
            # mode="raise" makes; the rows clipped from -1 get their NaN right after.
            np.take(columns[i], take, out=block[i], mode="clip")
            block[i, missing] = np.nan

        return run

    in_parallel([fill(i) for i in range(len(columns))], len(take))


def attach_weekly_features(
    daily: pd.DataFrame,
    features: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    available: str = "same_close",
    sessions: pd.DatetimeIndex | None = None,
    max_age_days: int | None = None,
    week_end_column: str | None = None,
) -> pd.DataFrame:
    """Daily rows, in input order, with the features of their symbol's latest available week.

    `available="same_close"`: the latest week_end <= date (a Friday row carries the week that
    ended at its close); `"next_session"`: the latest week_end < date. With `sessions`, a row
    never carries a week from before a hole in its symbol's series. `columns` defaults to
    every column of `features` except symbol and week_end; attached values are float64 (NaN
    where the symbol has no week available yet) and replace daily columns of the same name.
    `max_age_days`: a row carries no week that ended more than this many days before it
    (None: no limit; with `sessions`, a week is at most 13 days old by construction).
    With `week_end_column`, a column of that name says which week each row carries (NaT: none),
    so a reader can audit the join.
    """
    if available not in AVAILABILITY:
        raise ValueError(f"available: expected one of {AVAILABILITY}, got {available!r}")
    with small_pages():
        return _attach(daily, features, columns, available, sessions, max_age_days, week_end_column)


def _attach(
    daily: pd.DataFrame,
    features: pd.DataFrame,
    columns: Sequence[str] | None,
    available: str,
    sessions: pd.DatetimeIndex | None,
    max_age_days: int | None = None,
    week_end_column: str | None = None,
) -> pd.DataFrame:
    require_columns(daily, ("symbol", "date"), "daily bars")
    require_columns(features, ("symbol", "week_end"), "weekly features")
    if columns is None:
        columns = [c for c in features.columns if c not in ("symbol", "week_end")]
    names = list(columns)
    require_columns(features, names, "weekly features")
    require_numeric(features, names, "weekly features")
    d_codes, d_categories = symbol_codes(daily["symbol"], "daily bars")
    d_days, _ = day_numbers(daily["date"], "daily bars")
    f = key_rows(features["symbol"], features["week_end"], "weekly features", "week_end")
    f_codes, f_days = f.codes, f.days
    f_rows = f.order if f.order is not None else np.arange(len(f_codes))
    if not f.categories.equals(d_categories):
        # Put feature symbols into the daily codes; symbols the daily rows lack drop out.
        f_codes = d_categories.get_indexer(f.categories).astype(np.int32)[f_codes]
        keep = np.flatnonzero(f_codes >= 0)
        keep = keep[np.argsort(f_codes[keep], kind="stable")]
        f_codes, f_days, f_rows = f_codes[keep], f_days[keep], f_rows[keep]

    def run_starts() -> np.ndarray | None:
        if sessions is None:
            return None
        return segment_start_days(d_codes, d_days, len(d_categories), sessions)

    def latest() -> np.ndarray:
        # The latest week_end <= date - 1 is the latest week_end < date.
        days = d_days - 1 if available == "next_session" else d_days
        return _latest_rows(d_codes, days, f_codes, f_days, f_rows, len(d_categories))

    # Two independent index passes over the daily rows, one per thread.
    run_start, take = in_parallel([run_starts, latest], len(d_days))
    if run_start is not None:
        week_of_row = np.empty(len(features), dtype=np.int64)
        week_of_row[f_rows] = f_days
        stale = take >= 0
        stale &= week_of_row[np.maximum(take, 0)] < run_start
        take[stale] = -1
    if max_age_days is not None:
        week_of_row = np.empty(len(features), dtype=np.int64)
        week_of_row[f_rows] = f_days
        take[(take >= 0) & (d_days - week_of_row[np.maximum(take, 0)] > max_age_days)] = -1
    # One float64 block: pandas wraps it without copying, one gather per column. The threads
    # kept what they freed: handed back first, it does not add to the peak.
    release_freed()
    block = np.empty((len(names), len(take)), dtype=np.float64)
    _gather([as_float64(features, name) for name in names], take, block)
    attached = pd.DataFrame(block.T, columns=names, index=daily.index, copy=False)
    kept = daily.drop(columns=[c for c in names if c in daily.columns])
    if week_end_column is not None:
        weeks = features["week_end"].to_numpy(dtype="datetime64[ns]")
        carried = np.full(len(take), np.datetime64("NaT"), dtype="datetime64[ns]")
        found = take >= 0
        carried[found] = weeks[take[found]]
        kept = kept.drop(columns=[week_end_column], errors="ignore")
        kept[week_end_column] = carried
    return pd.concat([kept, attached], axis=1)
