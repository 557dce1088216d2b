"""Weekly (W-FRI) bars and features of many symbols in one vectorised pass, and their
attachment to daily rows without look-ahead.

Daily rows are never sorted: each is numbered by its (symbol, week) cell straight from its
integer keys (`cells.py`), and the bars are scattered from the rows where they lie, coming
out in (symbol, week) order. Rolling windows and the RSI's exponential mean are scans by
doubling over the weekly arrays of all symbols at once (`series/windows.py`), masked by each
row's position within its segment, so no symbol is ever copied out on its own.

With `sessions` (the exchange's trading days) a symbol's series is split at every hole
(`series/holes.py`): the week holding the first bar after a hole begins a new segment, built
from the bars after the hole only, so every window restarts there and features are NaN until
enough weeks follow. A symbol's last week is left out while one of its sessions is still to come
for that symbol (judged per symbol: a late symbol's partial week is never stored as finished).

The pass runs on small pages and reuses the memory it frees (`series/runtime.py`): in a step's
fresh process, page faults on fresh arrays are a third of the pass's CPU time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memwise_assets.compute.series import (
    EXAMPLES,
    Keyed,
    Segments,
    SessionCounter,
    any_hole,
    as_float64,
    day_numbers,
    in_order,
    in_parallel,
    key_rows,
    require_columns,
    require_numeric,
    segment_start_days,
    small_pages,
    symbol_codes,
    window,
)
from memwise_assets.compute.weekly.attach import AVAILABILITY, attach_weekly_features
from memwise_assets.compute.weekly.cells import Cells, first_at, scatter, week_cells

__all__ = [
    "AVAILABILITY",
    "BAR_COLUMNS",
    "DAILY_COLUMNS",
    "FEATURE_COLUMNS",
    "PRICE_FIELDS",
    "attach_weekly_features",
    "features_from_weekly_bars",
    "weekly_bars",
    "weekly_features",
]

DAILY_COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
BAR_COLUMNS: tuple[str, ...] = (
    "symbol", "week_end", "open", "high", "low", "close", "volume", "n_days",
)  # fmt: skip
FEATURE_COLUMNS: tuple[str, ...] = (
    "ret_1w", "ret_4w", "ret_13w", "ret_26w", "ret_52w", "vol_13w", "rsi_14w", "atr_14w",
    "range_1w", "volume_z_13w", "dist_52w_high", "sma_ratio_4_13",
)  # fmt: skip
_PRICES = ("open", "high", "low", "close", "volume")  # the bars' float64 columns, in order
# `adj_close` scales the day's open, high, low and close by adj_close / close (total return).
PRICE_FIELDS: tuple[str, ...] = ("close", "adj_close")

# 1970-01-02, day 1 since the epoch, was a Friday: week_end = day + (1 - day) mod 7.
_FRIDAY = 1
_RSI_SPAN = 14


@dataclass
class _Bars:
    """Weekly bars in (symbol, week) order, and where a segment begins after a hole."""

    frame: pd.DataFrame
    keyed: Keyed  # of the weekly rows, already in order
    breaks: np.ndarray | None


def _check_positive(daily: pd.DataFrame, name: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(~(values > 0))
    if bad.size:
        symbols = daily["symbol"].to_numpy()[bad[:EXAMPLES]]
        dates = daily["date"].to_numpy()[bad[:EXAMPLES]].astype("datetime64[D]")
        examples = ", ".join(
            f"({s!r}, {d}): {c}" for s, d, c in zip(symbols, dates, values[bad], strict=False)
        )
        raise ValueError(
            f"daily bars need {name} > 0; got {bad.size} rows with a non-positive or missing "
            f"{name}, e.g. {examples}"
        )


def _zero_nan(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(values, nan=0.0) if np.isnan(values).any() else values


def _check_price_field(price_field: str) -> None:
    if price_field not in PRICE_FIELDS:
        raise ValueError(f"price_field: expected one of {PRICE_FIELDS}, got {price_field!r}")


def _last_segments(
    codes: np.ndarray, days: np.ndarray, n_codes: int, sessions: pd.DatetimeIndex
) -> tuple[np.ndarray | None, Cells, np.ndarray | None]:
    """Cells of the rows kept, which rows those are (None: all) and which cells begin a
    segment after a hole (None: no hole). A week's bar is made of the bars of its last
    segment only: the rows before a hole that share a week with rows after it drop out."""
    cells = week_cells(codes, days, n_codes)
    present = cells.presence(n_codes)
    if present is not None:
        # The grid the cells already hold says whether there is a hole at all.
        counter = SessionCounter(sessions, int(days.min()), int(days.max()))
        if not any_hole(present, cells.first_day, counter):
            return None, cells, None
    run_start = segment_start_days(codes, days, n_codes, sessions)
    if run_start is None:
        return None, cells, None
    last_run = scatter(np.maximum, cells, run_start, np.iinfo(np.int64).min)
    kept = None
    if not np.array_equal(run_start, last_run[cells.of_row]):
        kept = np.flatnonzero(run_start == last_run[cells.of_row])
        # Fewer rows may number their cells another way: the run starts follow the new cells.
        cells = week_cells(codes[kept], days[kept], n_codes)
        last_run = scatter(np.maximum, cells, run_start[kept], np.iinfo(np.int64).min)
    present = np.flatnonzero(cells.counts)
    run_w, codes_w = last_run[present], cells.codes[present]
    breaks = np.zeros(len(present), dtype=bool)
    breaks[1:] = (run_w[1:] != run_w[:-1]) & (codes_w[1:] == codes_w[:-1])
    return kept, cells, breaks


def _finished(cells: Cells, present: np.ndarray, sessions: pd.DatetimeIndex) -> np.ndarray | None:
    """Which present cells are finished weeks (None: all are).

    Judged per symbol, on its own rows only: a symbol's week is unfinished while one of the
    week's sessions is still to come for that symbol, so only a symbol's last week can be.
    A late symbol's partial week is never stored as finished because other symbols have
    delivered theirs, and the answer does not depend on which other symbols are in the frame.
    """
    codes = cells.codes[present]
    last = np.flatnonzero(np.append(codes[1:] != codes[:-1], True))
    last_cells = present[last]
    filled = cells.slots[last_cells] >= 0  # Saturday first
    last_day = cells.weeks[last_cells] - 6 + (6 - np.argmax(filled[:, ::-1], axis=1))
    weeks = cells.weeks[last_cells]
    counter = SessionCounter(sessions, int(last_day.min()), int(weeks.max()))
    unfinished = counter.upto(weeks) > counter.upto(last_day)
    if not unfinished.any():
        return None
    done = np.ones(len(present), dtype=bool)
    done[last[unfinished]] = False
    return done


def _bars(daily: pd.DataFrame, price_field: str, sessions: pd.DatetimeIndex | None) -> _Bars:
    what = "daily bars"
    _check_price_field(price_field)
    needed = (*DAILY_COLUMNS, "adj_close") if price_field == "adj_close" else DAILY_COLUMNS
    require_columns(daily, needed, what)
    require_numeric(daily, needed[2:], what)
    close = as_float64(daily, "close")
    codes, categories = symbol_codes(daily["symbol"], what)
    days, date_dtype = day_numbers(daily["date"], what)
    _check_positive(daily, "close", close)
    factor = None
    if price_field == "adj_close":
        close = as_float64(daily, "adj_close")
        _check_positive(daily, "adj_close", close)
        factor = close / as_float64(daily, "close")
    if not len(days):
        frame = pd.DataFrame({c: [] for c in BAR_COLUMNS}, columns=list(BAR_COLUMNS))
        frame["symbol"] = pd.Categorical([], categories=categories)
        frame["week_end"] = frame["week_end"].astype(date_dtype)
        empty = np.array([], dtype=np.int32)
        return _Bars(frame, Keyed(empty, empty, None, categories, date_dtype), None)
    kept, breaks = None, None
    if sessions is None:
        cells = week_cells(codes, days, len(categories))
    else:
        kept, cells, breaks = _last_segments(codes, days, len(categories), sessions)
        if kept is not None:
            days = days[kept]
    if cells.duplicated:
        key_rows(daily["symbol"], daily["date"], what, "date")  # raises, naming examples

    def scaled(name: str) -> np.ndarray:
        """A column on `price_field`'s scale (close already is; volume never is)."""
        values = close if name == "close" else as_float64(daily, name)
        if factor is not None and name in ("open", "high", "low"):
            values = values * factor
        return values if kept is None else values[kept]

    # One column per task, two at a time. fmax/fmin skip NaN as pandas' max/min do;
    # NaN volume counts as 0 as in pandas' sum(); open is the week's first valid one.
    tasks = [
        lambda: first_at(cells, scaled("open"), last=False),
        lambda: scatter(np.fmax, cells, scaled("high"), np.nan),
        lambda: scatter(np.fmin, cells, scaled("low"), np.nan),
        lambda: first_at(cells, scaled("close"), last=True),
        lambda: scatter(np.add, cells, _zero_nan(scaled("volume")), 0.0),
    ]
    reduced = in_parallel(tasks, len(days))
    present = np.flatnonzero(cells.counts)
    if sessions is not None and len(present):
        done = _finished(cells, present, sessions)
        if done is not None:
            present = present[done]
            breaks = None if breaks is None else breaks[done]
    codes_w, week_days = cells.codes[present], cells.weeks[present]
    # The prices land in one float64 block that pandas wraps without a consolidating copy.
    prices = np.empty((len(_PRICES), len(present)))

    def compact(row: int) -> Callable[[], None]:
        return lambda: np.take(reduced[row], present, out=prices[row], mode="clip")

    in_parallel([compact(row) for row in range(len(_PRICES))], len(days))
    keys = {
        "symbol": pd.Categorical.from_codes(codes_w, categories=categories),
        "week_end": week_days.astype("datetime64[D]").astype(date_dtype),
    }
    parts = [
        pd.DataFrame(keys),
        pd.DataFrame(prices.T, columns=list(_PRICES), copy=False),
        pd.DataFrame({"n_days": cells.counts[present].astype(np.int8)}),
    ]
    frame = pd.concat(parts, axis=1)
    week_keys = Keyed(codes_w, week_days, None, categories, date_dtype)
    return _Bars(frame, week_keys, breaks)


def weekly_bars(
    daily: pd.DataFrame,
    *,
    price_field: str = "close",
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Weekly OHLCV bars per symbol, weeks labelled by their Friday (W-FRI), sorted.

    `price_field="adj_close"` scales each day's open, high, low and close by
    adj_close / close first. `sessions` (trading days through the last week's Friday) turns
    on the split at holes and leaves out the unfinished last week.
    """
    with small_pages():
        return _bars(daily, price_field, sessions).frame


def _quiet(task: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            task()

    return run


def _features(bars: pd.DataFrame, keyed: Keyed, breaks: np.ndarray | None) -> pd.DataFrame:
    prices = ("high", "low", "close", "volume")
    high, low, close, volume = (in_order(as_float64(bars, c), keyed.order) for c in prices)
    seg = Segments(keyed.codes, breaks)
    # Features land in one float64 block that pandas wraps without a consolidating copy.
    block = np.empty((len(FEATURE_COLUMNS), len(close)), dtype=np.float64)
    out = dict(zip(FEATURE_COLUMNS, block, strict=True))
    prev_close = seg.lag(close, 1)

    def from_closes() -> None:
        for k in (1, 4, 13, 26, 52):
            out[f"ret_{k}w"][:] = close / seg.lag(close, k) - 1
        log_ret = np.log(close / prev_close)
        out["vol_13w"][:] = seg.rolling_mean_std(log_ret, 13, 13)[1]
        diff = close - prev_close
        gain = seg.ewm(np.clip(diff, 0.0, None), 1.0 / _RSI_SPAN, 1)
        loss = seg.ewm(np.clip(-diff, 0.0, None), 1.0 / _RSI_SPAN, 1)
        rsi = 100 - 100 / (1 + gain / loss)
        out["rsi_14w"][:] = seg.mask(np.where(loss == 0, 100.0, rsi), _RSI_SPAN)

    def from_ranges() -> None:
        # The first week has no previous close: fmax/fmin then give high - low.
        true_range = np.fmax(high, prev_close) - np.fmin(low, prev_close)
        out["atr_14w"][:] = seg.rolling_mean(true_range, 14, 13) / close
        out["range_1w"][:] = (high - low) / close
        vol_mean, vol_std = seg.rolling_mean_std(volume, 13, 12)
        out["volume_z_13w"][:] = (volume - vol_mean) / vol_std
        out["dist_52w_high"][:] = close / seg.mask(window(high, 52, np.maximum), 51) - 1
        sma_4 = seg.rolling_mean(close, 4, 3)
        out["sma_ratio_4_13"][:] = sma_4 / seg.rolling_mean(close, 13, 12) - 1

    with np.errstate(divide="ignore", invalid="ignore"):
        # np.errstate is per thread: each task sets its own.
        in_parallel([_quiet(from_closes), _quiet(from_ranges)], len(close))
    keys = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(keyed.codes, categories=keyed.categories),
            "week_end": keyed.days.astype("datetime64[D]").astype(keyed.date_dtype),
        }
    )
    values = pd.DataFrame(block.T, columns=list(FEATURE_COLUMNS), copy=False)
    return pd.concat([keys, values], axis=1)


def features_from_weekly_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Weekly features (FEATURE_COLUMNS) from weekly bars as `weekly_bars` returns them."""
    what = "weekly bars"
    prices = ("high", "low", "close", "volume")
    require_columns(bars, ("symbol", "week_end", *prices), what)
    require_numeric(bars, prices, what)
    with small_pages():
        return _features(bars, key_rows(bars["symbol"], bars["week_end"], what, "week_end"), None)


def weekly_features(
    daily: pd.DataFrame,
    *,
    price_field: str = "close",
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Weekly features per symbol and W-FRI week (FEATURE_COLUMNS, float64, NaN until full).

    `price_field` and `sessions` as in `weekly_bars`; with `sessions`, windows restart after
    every hole.
    """
    with small_pages():
        bars = _bars(daily, price_field, sessions)
        return _features(bars.frame, bars.keyed, bars.breaks)
