"""Weekly (W-FRI) bars and features of many symbols in one vectorised pass, and their
attachment to daily rows without look-ahead.

Rows are ordered once by (symbol code, day number), with a radix sort when both fit in 16
bits; weeks are runs of that order, reduced with `ufunc.reduceat`; rolling windows and the
RSI's exponential mean are scans by doubling over the weekly arrays of all symbols at once,
masked by each row's position within its symbol, so no symbol is ever copied out on its own.

There is no parallel path: the pass is memory-bound, and on a 2-core machine two threads
over the attach gathers (its largest step) measured no faster than one, while process
shards would copy the frame the whole design avoids copying.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DAILY_COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
BAR_COLUMNS: tuple[str, ...] = (
    "symbol", "week_end", "open", "high", "low", "close", "volume", "n_days",
)  # fmt: skip
FEATURE_COLUMNS: tuple[str, ...] = (
    "ret_1w", "ret_4w", "ret_13w", "ret_26w", "ret_52w", "vol_13w", "rsi_14w", "atr_14w",
    "range_1w", "volume_z_13w", "dist_52w_high", "sma_ratio_4_13",
)  # fmt: skip

# 1970-01-02, day 1 since the epoch, was a Friday: week_end = day + (1 - day) mod 7.
_FRIDAY = 1
_EXAMPLES = 5
_RSI_SPAN = 14

_Op = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Keyed:
    """Rows of a long frame in (symbol, day) order, as the integer keys that define it."""

    codes: np.ndarray  # symbol code per row, sorted order
    days: np.ndarray  # days since the epoch per row, sorted order
    order: np.ndarray | None  # input position of each sorted row; None when already sorted
    categories: pd.Index
    date_dtype: np.dtype


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(got: {', '.join(map(str, frame.columns))})"
        )


def _require_numeric(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    for name in names:
        dtype = frame[name].dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
            raise ValueError(f"{what} column {name!r} must be float or integer; got {dtype}")


def _float64(frame: pd.DataFrame, name: str) -> np.ndarray:
    # No copy for float64 columns; float32 and integers widen here, one column at a time.
    return frame[name].to_numpy(dtype=np.float64)


def _symbol_codes(symbol: pd.Series, what: str) -> tuple[np.ndarray, pd.Index]:
    if isinstance(symbol.dtype, pd.CategoricalDtype):
        # The categorical's own (compact) codes, not a copy: every use widens explicitly.
        codes = symbol.cat.codes.to_numpy()
        categories = symbol.cat.categories
    else:
        codes, categories = pd.factorize(symbol, sort=True)
        codes = codes.astype(np.int32)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ValueError(f"{what} has {missing} rows with a missing symbol")
    return codes, pd.Index(categories)


def _day_numbers(values: pd.Series, what: str) -> tuple[np.ndarray, np.dtype]:
    dtype = values.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind != "M":
        raise ValueError(f"{what} column {values.name!r} must be tz-naive datetime64; got {dtype}")
    raw = values.to_numpy()
    missing = int(np.count_nonzero(np.isnat(raw)))
    if missing:
        raise ValueError(f"{what} column {values.name!r} has {missing} missing dates (NaT)")
    unit, count = np.datetime_data(dtype)
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(count, unit)) if unit != "D" else 1
    days = np.empty(len(raw), dtype=np.int32)
    # Floor division keeps any time of day on its calendar day; writing int32 straight
    # from the ufunc spares a full-length int64 temporary.
    np.floor_divide(raw.view(np.int64), per_day, out=days, casting="unsafe")
    return days, dtype


def _describe(categories: pd.Index, codes: np.ndarray, days: np.ndarray) -> str:
    shown = [
        f"({categories[c]!r}, {np.datetime64(int(d), 'D')})"
        for c, d in zip(codes[:_EXAMPLES], days[:_EXAMPLES], strict=True)
    ]
    return ", ".join(shown)


def _sort_order(codes: np.ndarray, days: np.ndarray, n_categories: int) -> np.ndarray | None:
    """Stable order by (code, day); None when the rows are already in it."""
    code_step = np.diff(codes.astype(np.int32, copy=False))
    day_step = np.diff(days)
    in_order = bool(np.all((code_step > 0) | ((code_step == 0) & (day_step > 0))))
    date_major = bool(np.all(day_step >= 0))
    del code_step, day_step
    if in_order:
        return None
    base = int(days.min())
    span = int(days.max()) - base + 1
    if n_categories <= 1 << 16 and span <= 1 << 16:
        # Stable argsort of 16-bit keys is a radix sort: O(n), twice as fast as a
        # comparison sort here, and a single pass when rows come date by date.
        if date_major:
            return np.argsort(codes.astype(np.uint16), kind="stable")
        by_day = np.argsort((days - base).astype(np.uint16), kind="stable")
        by_code = np.argsort(codes[by_day].astype(np.uint16), kind="stable")
        return by_day[by_code]
    key = codes.astype(np.int64) * span + (days - base)
    return np.argsort(key, kind="stable")


def _key(symbol: pd.Series, dates: pd.Series, what: str, date_name: str) -> _Keyed:
    codes, categories = _symbol_codes(symbol, what)
    days, date_dtype = _day_numbers(dates, what)
    order = _sort_order(codes, days, len(categories)) if len(days) else None
    if order is not None:
        codes, days = codes[order], days[order]
    dup = np.flatnonzero((codes[1:] == codes[:-1]) & (days[1:] == days[:-1]))
    if dup.size:
        raise ValueError(
            f"{what} must have one row per (symbol, {date_name}); got {dup.size} duplicate "
            f"rows, e.g. {_describe(categories, codes[dup], days[dup])}"
        )
    return _Keyed(codes, days, order, categories, date_dtype)


def _sorted(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return values if order is None else values[order]


def _week_ends(days: np.ndarray) -> np.ndarray:
    return days + (_FRIDAY - days) % 7


def _segment_starts(*keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal consecutive keys (keys already sorted)."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(new)


def _first_valid(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """First non-NaN value per segment, as pandas' `first()` (NaN when none)."""
    if not np.isnan(values).any():
        return values[starts]
    idx = np.where(np.isnan(values), len(values), np.arange(len(values)))
    first = np.minimum.reduceat(idx, starts)
    return np.append(values, np.nan)[np.where(first <= ends, first, len(values))]


def _check_closes(daily: pd.DataFrame, close: np.ndarray) -> None:
    bad = np.flatnonzero(~(close > 0))
    if bad.size:
        symbols = daily["symbol"].to_numpy()[bad[:_EXAMPLES]]
        dates = daily["date"].to_numpy()[bad[:_EXAMPLES]].astype("datetime64[D]")
        examples = ", ".join(
            f"({s!r}, {d}): {c}" for s, d, c in zip(symbols, dates, close[bad], strict=False)
        )
        raise ValueError(
            f"daily bars need close > 0; got {bad.size} rows with a non-positive or missing "
            f"close, e.g. {examples}"
        )


def weekly_bars(daily: pd.DataFrame) -> pd.DataFrame:
    """Weekly OHLCV bars per symbol, weeks labelled by their Friday (W-FRI), sorted."""
    what = "daily bars"
    _require(daily, DAILY_COLUMNS, what)
    _require_numeric(daily, DAILY_COLUMNS[2:], what)
    close = _float64(daily, "close")
    keyed = _key(daily["symbol"], daily["date"], what, "date")
    _check_closes(daily, close)
    n, order = len(keyed.days), keyed.order
    week = _week_ends(keyed.days)
    starts = _segment_starts(keyed.codes, week)
    ends = np.append(starts[1:], n) - 1
    columns: dict[str, object] = {
        "symbol": pd.Categorical.from_codes(keyed.codes[starts], categories=keyed.categories),
        "week_end": week[starts].astype("datetime64[D]").astype(keyed.date_dtype),
    }
    del week
    opens = _float64(daily, "open")
    if np.isnan(opens).any():
        columns["open"] = _first_valid(_sorted(opens, order), starts, ends)
    else:
        columns["open"] = opens[starts if order is None else order[starts]]
    if n == 0:
        columns.update(high=[], low=[], close=[], volume=[])
    else:
        # One sorted column alive at a time. fmax/fmin skip NaN as pandas' max/min do;
        # NaN volume counts as 0 as in pandas' sum().
        columns["high"] = np.fmax.reduceat(_sorted(_float64(daily, "high"), order), starts)
        columns["low"] = np.fmin.reduceat(_sorted(_float64(daily, "low"), order), starts)
        columns["close"] = close[ends if order is None else order[ends]]
        volume = _sorted(_float64(daily, "volume"), order)
        if np.isnan(volume).any():
            volume = np.nan_to_num(volume, nan=0.0)
        columns["volume"] = np.add.reduceat(volume, starts)
    columns["n_days"] = (ends - starts + 1).astype(np.int8)
    return pd.DataFrame(columns, columns=list(BAR_COLUMNS))


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def _window(x: np.ndarray, w: int, op: _Op) -> np.ndarray:
    """`op` over the last `w` values at each row, by binary lifting: O(n log w).

    Windows reaching before the array start hold NaN; callers mask windows that cross a
    symbol boundary by position.
    """
    powers = [x]
    while 2 ** len(powers) <= w:
        p, size = powers[-1], 2 ** (len(powers) - 1)
        powers.append(op(p, _shifted(p, size)))
    out: np.ndarray | None = None
    offset = 0
    for bit in range(len(powers) - 1, -1, -1):
        if w & (1 << bit):
            part = powers[bit] if offset == 0 else _shifted(powers[bit], offset)
            out = part if out is None else op(out, part)
            offset += 1 << bit
    assert out is not None
    return out


def _constant_run(x: np.ndarray) -> np.ndarray:
    """Length of the run of equal values ending at each row (NaN breaks runs)."""
    idx = np.arange(len(x))
    change = np.ones(len(x), dtype=bool)
    change[1:] = x[1:] != x[:-1]
    return idx - np.maximum.accumulate(np.where(change, idx, 0)) + 1


def _segment_mean(x: np.ndarray, seg_starts: np.ndarray, seg_of_row: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(x)
    sums = np.add.reduceat(np.where(valid, x, 0.0), seg_starts)
    counts = np.add.reduceat(valid.astype(np.int64), seg_starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, 0.0)
    return means[seg_of_row]


class _Segments:
    """Per-row position within its symbol, for masking windows that cross symbols."""

    def __init__(self, codes: np.ndarray) -> None:
        self.starts = _segment_starts(codes)
        idx = np.arange(len(codes))
        self.seg_of_row = np.repeat(
            np.arange(len(self.starts)), np.diff(np.append(self.starts, len(codes)))
        )
        self.pos = idx - self.starts[self.seg_of_row]

    def mask(self, values: np.ndarray, first_valid_pos: int) -> np.ndarray:
        return np.where(self.pos >= first_valid_pos, values, np.nan)

    def lag(self, x: np.ndarray, k: int) -> np.ndarray:
        return self.mask(_shifted(x, k), k)

    def rolling_mean(self, x: np.ndarray, w: int, first_valid_pos: int) -> np.ndarray:
        mean = _window(x, w, np.add) / w
        # Like pandas, a window of identical values has exactly that value as its mean.
        mean = np.where(_constant_run(x) >= w, x, mean)
        return self.mask(mean, first_valid_pos)

    def rolling_mean_std(
        self, x: np.ndarray, w: int, first_valid_pos: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # Centring on the symbol's mean keeps the sum-of-squares form free of cancellation
        # for price-like and volume-like levels; windows of identical values get std 0 and
        # their own value as mean, as pandas does.
        centre = _segment_mean(x, self.starts, self.seg_of_row)
        y = x - centre
        s = _window(y, w, np.add)
        q = _window(y * y, w, np.add)
        var = np.maximum((q - s * s / w) / (w - 1), 0.0)
        constant = _constant_run(x) >= w
        mean = np.where(constant, x, centre + s / w)
        std = np.where(constant, 0.0, np.sqrt(var))
        return self.mask(mean, first_valid_pos), self.mask(std, first_valid_pos)

    def ewm(self, x: np.ndarray, alpha: float, first_pos: int) -> np.ndarray:
        """pandas `ewm(alpha, adjust=False)` of x from row position `first_pos` on.

        y = (1 - alpha) y_prev + alpha x, y at first_pos = x: an inclusive prefix scan with
        a decay factor, done by doubling (Hillis-Steele) across all symbols at once.
        """
        decay = 1.0 - alpha
        y = np.where(self.pos > first_pos, alpha * x, np.where(self.pos == first_pos, x, 0.0))
        step = 1
        longest = int(self.pos.max()) + 1 if len(self.pos) else 0
        while step < longest:
            carried = decay**step * y[:-step]
            carried[self.pos[step:] < step] = 0.0
            y[step:] += carried
            step *= 2
        return y


def features_from_weekly_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Weekly features (FEATURE_COLUMNS) from weekly bars as `weekly_bars` returns them."""
    what = "weekly bars"
    prices = ("high", "low", "close", "volume")
    _require(bars, ("symbol", "week_end", *prices), what)
    _require_numeric(bars, prices, what)
    keyed = _key(bars["symbol"], bars["week_end"], what, "week_end")
    high, low, close, volume = (_sorted(_float64(bars, c), keyed.order) for c in prices)
    seg = _Segments(keyed.codes)
    # Features land in one float64 block that pandas wraps without a consolidating copy.
    block = np.empty((len(FEATURE_COLUMNS), len(close)), dtype=np.float64)
    out = dict(zip(FEATURE_COLUMNS, block, strict=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in (1, 4, 13, 26, 52):
            out[f"ret_{k}w"][:] = close / seg.lag(close, k) - 1
        prev_close = seg.lag(close, 1)
        log_ret = np.log(close / prev_close)
        out["vol_13w"][:] = seg.rolling_mean_std(log_ret, 13, 13)[1]

        diff = close - prev_close
        gain = seg.ewm(np.clip(diff, 0.0, None), 1.0 / _RSI_SPAN, 1)
        loss = seg.ewm(np.clip(-diff, 0.0, None), 1.0 / _RSI_SPAN, 1)
        rsi = 100 - 100 / (1 + gain / loss)
        out["rsi_14w"][:] = seg.mask(np.where(loss == 0, 100.0, rsi), _RSI_SPAN)

        # The first week has no previous close: fmax/fmin then give high - low.
        true_range = np.fmax(high, prev_close) - np.fmin(low, prev_close)
        out["atr_14w"][:] = seg.rolling_mean(true_range, 14, 13) / close
        out["range_1w"][:] = (high - low) / close
        vol_mean, vol_std = seg.rolling_mean_std(volume, 13, 12)
        out["volume_z_13w"][:] = (volume - vol_mean) / vol_std
        out["dist_52w_high"][:] = close / seg.mask(_window(high, 52, np.maximum), 51) - 1
        sma_4 = seg.rolling_mean(close, 4, 3)
        out["sma_ratio_4_13"][:] = sma_4 / seg.rolling_mean(close, 13, 12) - 1
    keys = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(keyed.codes, categories=keyed.categories),
            "week_end": keyed.days.astype("datetime64[D]").astype(keyed.date_dtype),
        }
    )
    values = pd.DataFrame(block.T, columns=list(FEATURE_COLUMNS), copy=False)
    return pd.concat([keys, values], axis=1)


def weekly_features(daily: pd.DataFrame) -> pd.DataFrame:
    """Weekly features per symbol and W-FRI week (FEATURE_COLUMNS, float64, NaN until full)."""
    return features_from_weekly_bars(weekly_bars(daily))


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
        grid = np.full(n_codes * n_weeks, -1, dtype=np.int64)
        grid[f_codes.astype(np.int64) * n_weeks + (f_days - first_week) // 7] = np.arange(
            len(f_days)
        )
        # Rows of a symbol are in week order, so a running max is its forward fill.
        grid = np.maximum.accumulate(grid.reshape(n_codes, n_weeks), axis=1).ravel()
        grid = np.where(grid >= 0, f_rows[np.maximum(grid, 0)], -1)
        # The Friday on or before each date, as a week number; before the first week: -1.
        week = d_days - (d_days - _FRIDAY) % 7
        week -= first_week
        week //= 7
        np.minimum(week, n_weeks - 1, out=week)
        before = week < 0
        take = d_codes.astype(np.int64)
        take *= n_weeks
        take += week
        del week
        take[before] = 0
        np.take(grid, take, out=take)
        take[before] = -1
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
    np.take(f_rows, take, out=take)
    take[~found] = -1
    return take


def attach_weekly_features(
    daily: pd.DataFrame, features: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Daily rows, in input order, with the features of their symbol's latest week_end <= date.

    `columns` defaults to every column of `features` except symbol and week_end; attached
    values are float64 (NaN where the symbol has no week closed yet) and replace daily
    columns of the same name.
    """
    _require(daily, ("symbol", "date"), "daily bars")
    _require(features, ("symbol", "week_end"), "weekly features")
    if columns is None:
        columns = [c for c in features.columns if c not in ("symbol", "week_end")]
    names = list(columns)
    _require(features, names, "weekly features")
    _require_numeric(features, names, "weekly features")
    d_codes, d_categories = _symbol_codes(daily["symbol"], "daily bars")
    d_days, _ = _day_numbers(daily["date"], "daily bars")
    f = _key(features["symbol"], features["week_end"], "weekly features", "week_end")
    f_codes, f_days = f.codes, f.days
    f_rows = f.order if f.order is not None else np.arange(len(f_codes))
    if not f.categories.equals(d_categories):
        # Put feature symbols into the daily codes; symbols the daily rows lack drop out.
        f_codes = d_categories.get_indexer(f.categories).astype(np.int32)[f_codes]
        keep = np.flatnonzero(f_codes >= 0)
        keep = keep[np.argsort(f_codes[keep], kind="stable")]
        f_codes, f_days, f_rows = f_codes[keep], f_days[keep], f_rows[keep]
    take = _latest_rows(d_codes, d_days, f_codes, f_days, f_rows, len(d_categories))
    del d_codes, d_days
    # One float64 block: pandas wraps it without copying, one gather per column, and
    # index -1 lands on the NaN appended to each column.
    block = np.empty((len(names), len(take)), dtype=np.float64)
    for i, name in enumerate(names):
        values = np.append(_float64(features, name), np.nan)
        np.take(values, take, out=block[i])
    attached = pd.DataFrame(block.T, columns=names, index=daily.index, copy=False)
    kept = daily.drop(columns=[c for c in names if c in daily.columns])
    return pd.concat([kept, attached], axis=1)
