"""When a value becomes known to a trader: the one public-time rule of memwise.

A value (a filing, an SEC fundamental, a Yahoo fundamental) is known from the first NYSE
session whose 09:30 New York open comes after its acceptance; where only a date is known,
from the next session after that date. `public_session` is that rule; every joined asset
calls it and nothing else decides when a value counts.

Why the open and not the close: a daily row stands for a session a trader could act in from
its open; a value accepted at 08:00 is known before that session opens, one accepted at 10:00
is not (the row's open price was set without it). Why "next session after the date": a
filing dated D may have been accepted at 17:29 on D, after that day's close.

`unchanged_before_cut` is the shared perturbation test: drop everything public after a cut,
join again, and every row up to the cut must be identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.prices import trading_days

NEW_YORK = "America/New_York"
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)
PUBLIC_COLUMN = "public_session"


def as_dates(values: pd.Series | Sequence[object]) -> pd.Series:
    """Dates as tz-naive datetime64[ns] midnights, whatever the unit or zone they came in."""
    stamps = pd.Series(pd.to_datetime(pd.Series(values)), copy=False)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.astype("datetime64[ns]").dt.normalize()


def as_utc(values: pd.Series | Sequence[object]) -> pd.Series:
    """Instants as datetime64[ns, UTC]; tz-naive values are UTC (how memwise stores instants)."""
    stamps = pd.to_datetime(pd.Series(values), utc=True)
    return stamps.astype("datetime64[ns, UTC]")


def sessions_around(stamps: Sequence[object]) -> pd.DatetimeIndex:
    """NYSE sessions from a week before the earliest stamp to three weeks after the latest."""
    known = [pd.Timestamp(s) for s in stamps if s is not None and not pd.isna(s)]
    if not known:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    known = [s.tz_localize(None) if s.tzinfo else s for s in known]
    start = min(known) - pd.Timedelta(days=7)
    end = max(known) + pd.Timedelta(days=21)
    return trading_days(start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"))


def public_session(accepted_at: pd.Series | None, known_date: pd.Series | None = None) -> pd.Series:
    """The first session each value counts from: the one rule (NaT when nothing is known).

    accepted_at: acceptance instants (tz-aware, or naive UTC; NaT where unknown);
    known_date: the date where only a date is known (filing date, or a deadline date).
    An acceptance time wins over the date. Any datetime unit works.
    """
    if accepted_at is None and known_date is None:
        raise ValueError("public_session needs accepted_at, known_date or both")
    index = (accepted_at if accepted_at is not None else known_date).index
    n = len(index)
    accepted = (
        as_utc(accepted_at.set_axis(range(n)))
        if accepted_at is not None
        else pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    )
    dated = (
        as_dates(known_date.set_axis(range(n)))
        if known_date is not None
        else pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    )
    local = accepted.dt.tz_convert(NEW_YORK).dt.tz_localize(None).astype("datetime64[ns]")
    day = local.dt.normalize()
    sessions = sessions_around([*day.dropna(), *dated.dropna()]).values
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has_time = accepted.notna().to_numpy()
    if has_time.any():
        days = day.to_numpy()[has_time]
        # Before the open: that day's session if it is one; from the open on: the next.
        early = ((local - day) < SESSION_OPEN).to_numpy()[has_time]
        idx = np.where(
            early,
            np.searchsorted(sessions, days, side="left"),
            np.searchsorted(sessions, days, side="right"),
        )
        out[has_time] = _take(sessions, idx)
    date_only = ~has_time & dated.notna().to_numpy()
    if date_only.any():
        idx = np.searchsorted(sessions, dated.to_numpy()[date_only], side="right")
        out[date_only] = _take(sessions, idx)
    return pd.Series(out, index=index, name=PUBLIC_COLUMN)


def session_open_utc(dates: pd.Series) -> pd.Series:
    """The 09:30 New York open of each date, as a UTC instant."""
    opens = as_dates(dates) + SESSION_OPEN
    return opens.dt.tz_localize(NEW_YORK, nonexistent="shift_forward").dt.tz_convert("UTC")


def _take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    padded = np.append(values, np.datetime64("NaT"))
    return padded[np.minimum(idx, len(values))]


def unchanged_before_cut(
    joined: pd.DataFrame,
    again: pd.DataFrame,
    cut: pd.Timestamp,
    *,
    date_column: str = "date",
    ignore: Sequence[str] = (),
) -> str | None:
    """None when every row dated up to `cut` is the same in both joins, else what differs.

    `joined`: the join on everything; `again`: the same join after dropping every value
    public after `cut` (the shared perturbation test of every point-in-time join).
    """
    if len(joined) != len(again):
        return f"row counts differ: {len(joined)} and {len(again)}"
    before = (as_dates(joined[date_column]) <= pd.Timestamp(cut)).to_numpy()
    a = joined.loc[before].drop(columns=list(ignore)).reset_index(drop=True)
    b = again.loc[before].drop(columns=list(ignore)).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)
    except AssertionError as exc:
        return str(exc)[:500]
    return None
