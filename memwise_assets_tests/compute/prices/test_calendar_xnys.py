"""The NYSE calendar backed by exchange_calendars: early closes, and the contract's range."""

from __future__ import annotations

import pandas as pd

from memwise_assets.compute.prices.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    nyse_early_closes,
    nyse_holidays,
    trading_days,
)


def test_early_closes_are_sessions_the_old_list_never_had() -> None:
    early = nyse_early_closes("2024-01-01", "2025-01-01").strftime("%Y-%m-%d").tolist()
    assert early == ["2024-07-03", "2024-11-29", "2024-12-24"]
    days = set(trading_days("2024-01-01", "2025-01-01"))
    assert all(pd.Timestamp(d) in days for d in early)  # early closes still trade


def test_whole_range_is_covered_and_partitions_by_weekday() -> None:
    days = trading_days(CALENDAR_START, CALENDAR_END)
    closed = nyse_holidays(CALENDAR_START, CALENDAR_END)
    weekdays = pd.bdate_range(CALENDAR_START, CALENDAR_END - pd.Timedelta(days=1))
    assert days[0] == pd.Timestamp("1971-01-04") and days[-1] == pd.Timestamp("2099-12-31")
    assert len(days) + len(closed) == len(weekdays) and not set(days) & set(closed)
