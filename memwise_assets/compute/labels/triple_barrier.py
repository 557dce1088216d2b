"""Weighted triple-barrier labels (AFML ch. 3-4), vectorised and chunked in bounded memory.

Every bar is an event candidate. Per segment (one symbol, or one symbol and contract, split
again at every hole in the exchange's sessions when `sessions` is given), in time order:
bar-to-bar log returns, their ewm std (the vol, `vol.py`), a first-touch search of the
profit-take / stop-loss / vertical barriers, the concurrency of the events' spans
`(t_in, t_out]`, each event's uniqueness and return attribution (`paths.py`), and the
weights (attribution rescaled to the event count of the segment, times the time decay along
cumulative uniqueness, `weights.py`).

Rows that are no event (warm-up before the vol has `vol_min_periods` returns, zero vol, the
last bar of a segment) carry `is_event_<mode>` False, label 0, weight 0 and exit 0, so they
are told apart from flat labels (an event at the vertical barrier with label 0).

Memory: besides the input and the output, the work holds a few arrays of 8 bytes per row
(the vol, and the sort order when the input is not already grouped by segment and
time-ordered); everything of size rows x horizon is done per chunk of `chunk_rows` rows.
The output does not depend on `chunk_rows`, bit for bit: per-event sums run over k in
order, and the per-segment sums run over fixed blocks that ignore `chunk_rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from memwise_assets.compute.labels.config import (
    PRICE_FIELDS,
    VERTICAL_RULES,
    LabelingConfig,
    LabelMode,
)
from memwise_assets.compute.labels.paths import ModeOutput, SortedBars, label_chunk
from memwise_assets.compute.labels.vol import ewm_vol
from memwise_assets.compute.labels.weights import apply_weights
from memwise_assets.compute.series import SessionCounter, hole_starts

__all__ = [
    "PRICE_FIELDS",
    "TIME_COLUMNS",
    "VERTICAL_RULES",
    "LabelMode",
    "LabelingConfig",
    "ewm_vol",
    "longest_series",
    "refuse_long_horizons",
    "triple_barrier_labels",
]

log = logging.getLogger(__name__)

TIME_COLUMNS = ("date", "timestamp", "date_time")

ChunkCallback = Callable[[int, int, int], None]


def _time_keys(bars: pd.DataFrame) -> tuple[str, np.ndarray]:
    col = next((c for c in TIME_COLUMNS if c in bars.columns), None)
    if col is None:
        raise ValueError(
            f"bars needs a time column (one of {', '.join(TIME_COLUMNS)}); "
            f"got columns: {list(bars.columns)}"
        )
    values = bars[col]
    if pd.api.types.is_datetime64_any_dtype(values):
        keys = values.array.asi8  # a view: no copy of a large time column
        bad = keys == np.iinfo(np.int64).min  # NaT
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        keys = values.to_numpy()
        bad = np.isnan(keys) if keys.dtype.kind == "f" else np.zeros(len(keys), bool)
    else:
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(values))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bars.{col}: expected datetimes, got {values.dtype}") from exc
        keys = stamps.asi8
        bad = np.asarray(stamps.isna())
    if bad.any():
        raise ValueError(f"bars.{col}: expected no missing times, got {int(bad.sum())}")
    return col, keys


def _segment_codes(bars: pd.DataFrame) -> np.ndarray:
    cols = ["symbol", "contract"] if "contract" in bars.columns else ["symbol"]
    code: np.ndarray | None = None
    for col in cols:
        values = bars[col]
        codes, uniques = (
            (values.cat.codes.to_numpy(), values.cat.categories)
            if isinstance(values.dtype, pd.CategoricalDtype)
            else pd.factorize(values)
        )
        if (codes < 0).any():
            raise ValueError(f"bars.{col}: expected no missing values, got {(codes < 0).sum()}")
        # Compact codes as they come; a (symbol, contract) pair needs the wider product.
        code = codes if code is None else code.astype(np.int64) * (len(uniques) + 1) + codes
    return code


def _day_numbers(bars: pd.DataFrame, time_col: str, t: np.ndarray) -> np.ndarray:
    values = bars[time_col]
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise ValueError(
            f"bars.{time_col}: holes are found on a calendar, so sessions need datetimes; "
            f"got {values.dtype}"
        )
    per_day = np.timedelta64(1, "D") // np.timedelta64(1, values.dt.unit)
    return t // per_day


def _prepare(
    bars: pd.DataFrame, price_field: str = "close", sessions: pd.DatetimeIndex | None = None
) -> SortedBars:
    missing = [c for c in ("symbol", price_field) if c not in bars.columns]
    if missing:
        raise ValueError(
            f"bars needs columns symbol, a time column and {price_field} (price_field); "
            f"missing {missing}, got: {list(bars.columns)}"
        )
    time_col, t = _time_keys(bars)
    close = bars[price_field].to_numpy(dtype=np.float64, na_value=np.nan)
    keys = ["symbol", "contract"] if "contract" in bars.columns else ["symbol"]
    bad = ~(close > 0)
    if bad.any():
        first = np.flatnonzero(bad)[:5]
        shown = bars.iloc[first][[*keys, time_col, price_field]].to_dict("records")
        raise ValueError(
            f"bars.{price_field}: expected positive prices, got {int(bad.sum())} non-positive "
            f"or NaN, e.g. rows {first.tolist()}: {shown}"
        )
    code = _segment_codes(bars)
    n = len(code)
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(code[1:], code[:-1], out=new_run[1:])
    # Grouped by segment iff no segment code comes back after its run: cheap when the run
    # codes already increase, else count runs against first-appearance codes.
    run_codes = code[new_run]
    grouped = bool(np.all(run_codes[1:] > run_codes[:-1])) or (
        len(run_codes) == len(pd.unique(run_codes))
    )
    perm = None
    rising = t[1:] > t[:-1]
    rising |= new_run[1:]
    if not (grouped and bool(rising.all())):
        # Segment order is irrelevant to every result; only time order within one matters.
        perm = np.lexsort((t, code))
        code, t, close = code[perm], t[perm], close[perm]
        np.not_equal(code[1:], code[:-1], out=new_run[1:])
    del rising
    dup = np.zeros(0, dtype=bool) if perm is None else ~new_run[1:] & (t[1:] == t[:-1])
    if dup.any():
        at = np.flatnonzero(dup)[:5] + 1
        rows = at if perm is None else perm[at]
        shown = bars.iloc[rows][[*keys, time_col]].to_dict("records")
        raise ValueError(
            f"bars: expected one row per (segment, {time_col}), got {int(dup.sum())} "
            f"duplicates, e.g. {shown}"
        )
    if sessions is not None and n:
        # A hole (sessions with no bar between two bars of a segment) starts a new segment.
        days = _day_numbers(bars, time_col, t)
        counter = SessionCounter(sessions, int(days.min()), int(days.max()))
        new_run |= hole_starts(code, days, counter)
    starts = np.append(np.flatnonzero(new_run), n).astype(np.int64)
    return SortedBars(close=close, starts=starts, perm=perm)


def longest_series(bars: pd.DataFrame) -> int:
    """Bars in the longest series (symbol, or symbol and contract) of `bars`."""
    if not len(bars):
        return 0
    return int(np.bincount(pd.factorize(_segment_codes(bars))[0]).max())


def refuse_long_horizons(
    bars: pd.DataFrame | None, config: LabelingConfig, *, longest: int | None = None
) -> None:
    """Refuse a horizon longer than every series of `bars`: no event could ever reach it.

    `longest`: the longest series when it is known without the bars (a stored table's counts).
    """
    if longest is None:
        longest = longest_series(bars) if bars is not None else 0
    for mode in config.modes:
        if mode.horizon > longest:
            raise ValueError(
                f"modes[{mode.name}].horizon: expected at most {longest:,} bars (the longest "
                f"series of the input), got {mode.horizon:,}"
            )


def _within_series(data: SortedBars, config: LabelingConfig) -> LabelingConfig:
    """The config with each horizon cut to the longest segment: the same labels, bounded work.

    No row has more bars ahead than its segment, so a longer horizon changes no result; cut,
    it stops the padding and the concurrency arrays (rows + horizon) from growing with it.
    """
    longest = int(np.diff(data.starts).max()) if len(data.starts) > 1 else 1
    modes = tuple(replace(m, horizon=min(m.horizon, longest)) for m in config.modes)
    return replace(config, modes=modes)


def triple_barrier_labels(
    bars: pd.DataFrame,
    config: LabelingConfig = LabelingConfig(),
    *,
    sessions: pd.DatetimeIndex | None = None,
    on_chunk: ChunkCallback | None = None,
) -> pd.DataFrame:
    """Bars in their input order plus label_, weight_, uniq_, exit_ and is_event_ per mode.

    Labels read `config.price_field`. An event's span is `(t_in, t_out]`: the return into
    its entry bar is not its own (it was known when the event was entered; AFML's snippets
    count it), so concurrency, uniqueness and attribution start at the bar after entry.
    With `sessions` (the exchange's trading days) a series is split at every hole, so no
    vol, barrier path or span crosses one. Non-events (warm-up, zero vol, a segment's last
    bar) have `is_event_<mode>` False, label 0 and weight 0.
    `on_chunk(i, n_chunks, rows_done)` is called after each chunk of `config.chunk_rows`.
    """
    data = _prepare(bars, config.price_field, sessions)
    n = len(data.close)
    work = _within_series(data, config)
    vol = ewm_vol(data.close, data.starts, config.vol_span, config.vol_min_periods)
    outs = {
        m.name: ModeOutput(
            label=np.zeros(n, dtype=np.int8),
            exit=np.zeros(n, dtype=np.int16 if m.horizon <= np.iinfo(np.int16).max else np.int32),
            uniq=np.zeros(n, dtype=np.float32),
            weight=np.zeros(n, dtype=np.float32),
        )
        for m in config.modes
    }
    chunk = int(config.chunk_rows)
    n_chunks = -(-n // chunk)
    for i, lo in enumerate(range(0, n, chunk)):
        hi = min(n, lo + chunk)
        label_chunk(data, vol, work, outs, lo, hi)
        if on_chunk is not None:
            on_chunk(i, n_chunks, hi)
    del vol
    for out in outs.values():
        apply_weights(data, out, config.decay)
    columns: dict[str, np.ndarray] = {}
    for name, out in outs.items():
        columns |= {
            f"label_{name}": out.label,
            f"weight_{name}": out.weight,
            f"uniq_{name}": out.uniq,
            f"exit_{name}": out.exit,
            f"is_event_{name}": out.exit > 0,
        }
    log.debug("labelled %d rows in %d segments, %d chunks", n, len(data.starts) - 1, n_chunks)
    result = bars.copy(deep=False)
    for name, values in columns.items():
        result[name] = values
    return result
