"""NYSE trading calendar: holiday rules, observance, special closures, known yearly counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.prices import nyse_holidays, trading_days

FIXTURES = Path(__file__).parents[2] / "fixtures" / "prices"


@pytest.mark.parametrize(
    ("year", "count"),
    [
        (2001, 248),
        (2012, 250),
        (2016, 252),
        (2018, 251),
        (2022, 251),
        (2023, 250),
        (2024, 252),
        (2025, 250),
    ],  # fmt: skip
)
def test_known_yearly_trading_day_counts(year: int, count: int) -> None:
    assert len(trading_days(f"{year}-01-01", f"{year + 1}-01-01")) == count


def test_2022_holidays_exactly() -> None:
    got = nyse_holidays("2022-01-01", "2023-01-01").strftime("%Y-%m-%d").tolist()
    # New Year 2022 fell on a Saturday: no Friday closure on 2021-12-31.
    assert got == [
        "2022-01-17", "2022-02-21", "2022-04-15", "2022-05-30", "2022-06-20",
        "2022-07-04", "2022-09-05", "2022-11-24", "2022-12-26",
    ]  # fmt: skip


def test_observance_and_special_closures() -> None:
    days = set(trading_days("2000-01-01", "2026-01-01"))
    closed = ["2001-09-11", "2001-09-14", "2004-06-11", "2007-01-02", "2012-10-29",
              "2012-10-30", "2018-12-05", "2025-01-09", "2021-07-05", "2020-07-03",
              "2024-03-29", "2023-06-19", "2017-01-02", "2021-12-24"]  # fmt: skip
    for day in closed:
        assert pd.Timestamp(day) not in days, day
    # Juneteenth only from 2022; MLK day is a holiday; Saturday New Year is not moved.
    for day in ["2021-06-18", "2021-12-31", "2001-09-17", "2012-10-31"]:
        assert pd.Timestamp(day) in days, day


def test_mlk_day_only_from_1998() -> None:
    assert pd.Timestamp("1997-01-20") in set(trading_days("1997-01-01", "1997-02-01"))
    assert pd.Timestamp("1998-01-19") not in set(trading_days("1998-01-01", "1998-02-01"))


def test_matches_real_yahoo_dates_and_dtype() -> None:
    real = pd.to_datetime(pd.read_csv(FIXTURES / "csv" / "AAPL.csv")["Date"])
    days = trading_days("2017-10-02", "2017-12-07")
    assert days.dtype == "datetime64[ns]" and days.tz is None
    assert list(days) == list(real)


def test_end_exclusive_and_empty_ranges() -> None:
    assert list(trading_days("2024-07-03", "2024-07-05")) == [pd.Timestamp("2024-07-03")]
    assert len(trading_days("2024-07-06", "2024-07-08")) == 0  # a weekend
    assert len(trading_days("2024-07-08", "2024-07-01")) == 0


def test_out_of_calendar_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="calendar covers"):
        trading_days("1960-01-01", "1961-01-01")
