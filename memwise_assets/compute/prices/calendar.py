"""The NYSE trading calendar in pure pandas: weekdays minus exchange holidays and closures."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

# The rules below hold from 1971 (Monday holidays act); earlier dates are not supported.
CALENDAR_START = pd.Timestamp("1971-01-01")
CALENDAR_END = pd.Timestamp("2100-01-01")

# Unscheduled closures (weather, national mourning, 9/11, the 1977 blackout) and the
# presidential election days the exchange closed on until 1980.
SPECIAL_CLOSURES: tuple[str, ...] = (
    "1972-11-07",
    "1972-12-28",
    "1973-01-25",
    "1976-11-02",
    "1977-07-14",
    "1980-11-04",
    "1985-09-27",
    "1994-04-27",
    "2001-09-11",
    "2001-09-12",
    "2001-09-13",
    "2001-09-14",
    "2004-06-11",
    "2007-01-02",
    "2012-10-29",
    "2012-10-30",
    "2018-12-05",
    "2025-01-09",
)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 = last) given weekday (Mon=0) of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _observed(day: dt.date) -> dt.date:
    """Saturday holidays move to Friday, Sunday holidays to Monday."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def _year_holidays(year: int) -> tuple[dt.date, ...]:
    days: list[dt.date] = []
    new_year = dt.date(year, 1, 1)
    # NYSE rule 7.2: a Saturday New Year's Day is not observed on the Friday before,
    # because that Friday closes the previous year's books.
    if new_year.weekday() == 6:
        days.append(new_year + dt.timedelta(days=1))
    elif new_year.weekday() < 5:
        days.append(new_year)
    if year >= 1998:
        days.append(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    days.append(_nth_weekday(year, 2, 0, 3))  # Washington's Birthday
    days.append(_easter(year) - dt.timedelta(days=2))  # Good Friday
    days.append(_nth_weekday(year, 5, 0, -1))  # Memorial Day
    if year >= 2022:
        days.append(_observed(dt.date(year, 6, 19)))  # Juneteenth
    days.append(_observed(dt.date(year, 7, 4)))
    days.append(_nth_weekday(year, 9, 0, 1))  # Labor Day
    days.append(_nth_weekday(year, 11, 3, 4))  # Thanksgiving
    days.append(_observed(dt.date(year, 12, 25)))
    return tuple(days)


def nyse_holidays(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Weekday exchange closures in [start, end): holidays and special closures."""
    start_ts, end_ts = _bounds(start, end)
    days = [d for y in range(start_ts.year, end_ts.year + 1) for d in _year_holidays(y)]
    days += SPECIAL_CLOSURES
    idx = pd.DatetimeIndex(pd.to_datetime(days)).astype("datetime64[ns]")
    idx = idx[(idx >= start_ts) & (idx < end_ts) & (idx.dayofweek < 5)]
    return idx.unique().sort_values()


def trading_days(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """NYSE trading days in [start, end) as a tz-naive, normalized `datetime64[ns]` index."""
    start_ts, end_ts = _bounds(start, end)
    if end_ts <= start_ts:
        return pd.DatetimeIndex([], dtype="datetime64[ns]", name="date")
    days = pd.bdate_range(start_ts, end_ts - pd.Timedelta(days=1), name="date")
    days = days.astype("datetime64[ns]")
    closed = nyse_holidays(start_ts, end_ts)
    return days[~np.isin(days.asi8, closed.asi8)].rename("date")


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
