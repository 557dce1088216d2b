"""Holes in a symbol's series: exchange sessions missing between two of its bars.

A hole is a run of sessions with no bar for a symbol that has bars on both sides of it.
Listings and delistings are not holes (no bars before, or after). Bars on days that are not
sessions (a stray Saturday) neither open nor close a hole. Weekly features and labels split a
series at each hole, so that no window, return or barrier path ever spans one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memwise_assets.compute.prices import trading_days
from memwise_assets.compute.series.keys import key_rows, segment_starts
from memwise_assets.compute.series.runtime import chunks

_SHOWN = 5
# Up to this many symbol x session cells (or 4 per row), holes are found on a presence grid.
GRID_CELLS = 1 << 22
_GRID_ROWS_FACTOR = 4
# Sessions are wanted through the Friday of the last bar's week (to tell it unfinished).
_WEEK_TAIL = pd.Timedelta(days=8)


def nyse_sessions(dates: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """NYSE sessions from the first date through a week past the last (empty input: none)."""
    if not len(dates):
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    first, last = pd.Timestamp(dates.min()).normalize(), pd.Timestamp(dates.max()).normalize()
    return trading_days(first, last + _WEEK_TAIL)


def as_day_numbers(values: pd.DatetimeIndex | np.ndarray | pd.Series) -> np.ndarray:
    """Dates as int64 days since the epoch (time of day dropped)."""
    raw = np.asarray(values)
    if raw.dtype.kind != "M":
        raise ValueError(f"sessions: expected datetime64 values, got {raw.dtype}")
    return raw.astype("datetime64[D]").astype(np.int64)


class SessionCounter:
    """How many sessions lie in a range of days, by one lookup in a small table per query."""

    def __init__(self, sessions: pd.DatetimeIndex | np.ndarray, lo: int, hi: int) -> None:
        days = np.unique(as_day_numbers(sessions))
        self.base = int(lo) - 1
        span = int(hi) - self.base + 1
        marks = np.zeros(span, dtype=np.int32)
        inside = days[(days >= self.base) & (days <= hi)]
        marks[inside - self.base] = 1
        # cum[d - base]: sessions on or before day d, counted from day lo - 1; before[d - base]:
        # sessions strictly before d. Both fit in cache: one entry per calendar day.
        self.cum = np.cumsum(marks, dtype=np.int32)
        self.before = self.cum - marks
        self.session_days = inside  # sessions in [lo - 1, hi], in order
        self.hi = int(hi)

    def upto(self, day: np.ndarray) -> np.ndarray:
        """Sessions on or before each day (days outside [lo - 1, hi] are clipped)."""
        return self.cum[np.clip(day - self.base, 0, len(self.cum) - 1)]

    def between(self, after: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Sessions strictly after `after` and strictly before `before`."""
        return np.maximum(self.upto(before - 1) - self.upto(after), 0)

    def offsets(self, days: np.ndarray) -> np.ndarray:
        """Table positions of days known to lie in [lo, hi] (int32, no clipping)."""
        offset = days.astype(np.int32)
        offset -= np.int32(self.base)
        return offset


def hole_starts(codes: np.ndarray, days: np.ndarray, counter: SessionCounter) -> np.ndarray:
    """Per row of a (code, day)-sorted series within the counter's range: True where the row
    follows a hole (a session with no bar since the symbol's previous bar)."""
    starts = np.zeros(len(days), dtype=bool)
    if len(days) > 1:
        at = counter.offsets(days)
        gap = counter.before[at[1:]] > counter.cum[at[:-1]]
        del at
        gap &= codes[1:] == codes[:-1]
        starts[1:] = gap
    return starts


def _run_starts(present: np.ndarray, first_day: int, counter: SessionCounter) -> np.ndarray:
    """Symbol x session: a run of bars starts there. `present`: symbol x calendar day from
    `first_day` on; only sessions' columns count (a bar on a day that is no session neither
    opens nor closes a run)."""
    at = counter.session_days - first_day
    grid = present[:, at[(at >= 0) & (at < present.shape[1])]]
    starts = grid.copy()
    starts[:, 1:] &= ~grid[:, :-1]
    return starts


def any_hole(present: np.ndarray, first_day: int, counter: SessionCounter) -> bool:
    """Whether a symbol misses a session between two of its bars, from a symbol x calendar
    day grid of presence (columns from `first_day` on, within the counter's range)."""
    return int(_run_starts(present, first_day, counter).sum(axis=1).max(initial=0)) > 1


def run_start_days(
    codes: np.ndarray, days: np.ndarray, n_codes: int, counter: SessionCounter
) -> np.ndarray | None:
    """Per row (any order), the first day of its run of bars since its symbol's latest hole.

    None when no symbol has a hole. A symbol x session grid of presence answers it without
    sorting the rows: a run starts wherever a bar follows a session without one. Rows on days
    that are not sessions count as part of the run of the session before them.
    """
    n_sessions = len(counter.session_days)
    if not len(days) or not n_sessions:
        return None
    span = len(counter.cum)

    def cells(part: slice) -> np.ndarray:
        """The rows' (symbol, calendar day) cells, built in place."""
        cell = codes[part].astype(np.intp)
        cell *= span
        cell += days[part]
        cell -= counter.base
        return cell

    on_day = np.zeros(n_codes * span, dtype=bool)
    # Chunk by chunk, in cache: with no hole (the usual case) no daily-length array is made.
    for part in chunks(len(days)):
        on_day[cells(part)] = True
    starts = _run_starts(on_day.reshape(n_codes, span), counter.base, counter)
    del on_day
    if int(starts.sum(axis=1).max(initial=0)) <= 1:
        return None
    cell = cells(slice(0, len(days)))
    first = np.where(starts, np.arange(n_sessions, dtype=np.int32), np.int32(-1))
    np.maximum.accumulate(first, axis=1, out=first)
    # Per calendar day, the latest session on or before it (the first, before any).
    latest = np.maximum(counter.cum - 1, 0)
    run_start = first[:, latest].ravel()[cell]
    out = counter.session_days[np.maximum(run_start, 0)]
    # A row before its symbol's first session-day bar starts its own run.
    return np.where(run_start >= 0, out, days).astype(np.int64)


def segment_start_days(
    codes: np.ndarray, days: np.ndarray, n_codes: int, sessions: pd.DatetimeIndex
) -> np.ndarray | None:
    """Per daily row (input order), the first day of its run after the latest hole, or None
    when there is no hole."""
    if not len(days):
        return None
    counter = SessionCounter(sessions, int(days.min()), int(days.max()))
    if n_codes * len(counter.session_days) <= max(_GRID_ROWS_FACTOR * len(days), GRID_CELLS):
        return run_start_days(codes, days, n_codes, counter)
    # Few rows over many symbols and sessions: sort the rows instead of filling a grid.
    keyed = key_rows(
        pd.Series(pd.Categorical.from_codes(codes, categories=np.arange(n_codes))),
        pd.Series(days.astype("datetime64[D]")),
        "daily bars",
        "date",
    )
    new = hole_starts(keyed.codes, keyed.days, counter)
    if not new.any():
        return None
    new[segment_starts(keyed.codes)] = True
    idx = np.arange(len(new))
    start_days = keyed.days[np.maximum.accumulate(np.where(new, idx, 0))]
    out = np.empty(len(days), dtype=np.int64)
    if keyed.order is None:
        out[:] = start_days
    else:
        out[keyed.order] = start_days
    return out


def describe_holes(
    categories: pd.Index, codes: np.ndarray, days: np.ndarray, starts: np.ndarray
) -> list[str]:
    """The first few holes as 'SYMBOL: missing A..B' (the bars on each side excluded)."""
    rows = np.flatnonzero(starts)[:_SHOWN]
    out = []
    for i in rows:
        last, first = np.datetime64(int(days[i - 1]), "D"), np.datetime64(int(days[i]), "D")
        out.append(f"{categories[codes[i]]}: no bars between {last} and {first} (exclusive)")
    return out


def find_holes(
    frame: pd.DataFrame, sessions: pd.DatetimeIndex, time_col: str = "date"
) -> pd.DataFrame:
    """One row per hole: symbol, last bar before it, first bar after it, sessions missing."""
    keyed = key_rows(frame["symbol"], frame[time_col], "bars", time_col)
    days = keyed.days.astype(np.int64)
    if not len(days):
        return pd.DataFrame(columns=["symbol", "last_before", "first_after", "missing_sessions"])
    counter = SessionCounter(sessions, int(days.min()), int(days.max()))
    at = np.flatnonzero(hole_starts(keyed.codes, days, counter))
    return pd.DataFrame(
        {
            "symbol": keyed.categories[keyed.codes[at]].astype(str),
            "last_before": days[at - 1].astype("datetime64[D]"),
            "first_after": days[at].astype("datetime64[D]"),
            "missing_sessions": counter.between(days[at - 1], days[at]).astype(np.int64),
        }
    )
