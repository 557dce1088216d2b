"""The NYSE trading calendar: `exchange_calendars`' XNYS behind memwise's day-level contract.

memwise used to carry the holiday rules and a hand-kept list of special closures (9/11,
Hurricane Sandy, days of national mourning). `exchange_calendars` (XNYS) matched it on every
session from 1971 to 2099, and its maintainers add new closures (2025-01-09 was added within
days) and keep the early closes, which the hand-written list never had. It was chosen over
`pandas_market_calendars` because that package builds on `exchange_calendars` anyway and
adds a heavier dependency set for nothing this project uses.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import exchange_calendars as xcals

# From 1971 the holiday rules are today's (Monday holidays act); earlier history is not
# supported, whatever the library could give, so that the contract stays as it was.
CALENDAR_START = pd.Timestamp("1971-01-01")
CALENDAR_END = pd.Timestamp("2100-01-01")


@lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    """The XNYS calendar over the whole supported range (built once per process, ~0.2 s)."""
    # Imported here (0.3 s): a process that never asks for a session (a config check)
    # does not pay for it.
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=CALENDAR_START, end=CALENDAR_END - pd.Timedelta(days=1))


@lru_cache(maxsize=1)
def _sessions() -> pd.DatetimeIndex:
    return pd.DatetimeIndex(_xnys().sessions).astype("datetime64[ns]").rename("date")


def trading_days(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """NYSE trading days in [start, end) as a tz-naive, normalized `datetime64[ns]` index."""
    start_ts, end_ts = _bounds(start, end)
    if end_ts <= start_ts:
        return pd.DatetimeIndex([], dtype="datetime64[ns]", name="date")
    sessions = _sessions()
    lo, hi = sessions.searchsorted(start_ts), sessions.searchsorted(end_ts)
    return sessions[lo:hi]


def nyse_holidays(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Weekday exchange closures in [start, end): holidays and special closures."""
    start_ts, end_ts = _bounds(start, end)
    if end_ts <= start_ts:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    weekdays = pd.bdate_range(start_ts, end_ts - pd.Timedelta(days=1)).astype("datetime64[ns]")
    open_days = trading_days(start_ts, end_ts)
    return weekdays[~np.isin(weekdays.asi8, open_days.asi8)]


def nyse_early_closes(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Sessions in [start, end) on which the NYSE closes early (e.g. 13:00 before Christmas)."""
    start_ts, end_ts = _bounds(start, end)
    early = pd.DatetimeIndex(_xnys().early_closes).astype("datetime64[ns]")
    return early[(early >= start_ts) & (early < end_ts)]


def _bounds(
    start: pd.Timestamp | str, end: pd.Timestamp | str
) -> tuple[pd.Timestamp, pd.Timestamp]:
    start_ts, end_ts = to_day(start), to_day(end)
    if start_ts < CALENDAR_START or end_ts > CALENDAR_END:
        raise ValueError(
            f"the NYSE calendar covers {CALENDAR_START.date()}..{CALENDAR_END.date()}; "
            f"got {start_ts.date()}..{end_ts.date()}"
        )
    return start_ts, end_ts


def to_day(value: pd.Timestamp | dt.date | str) -> pd.Timestamp:
    """A date-like value as a tz-naive midnight Timestamp (tz-aware values keep their local day)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected a date like '2024-01-31'; got {value!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"expected a date like '2024-01-31'; got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    try:
        return ts.normalize().as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ValueError(
            f"expected dates within {CALENDAR_START.date()}..{CALENDAR_END.date()}; got {value!r}"
        ) from None
