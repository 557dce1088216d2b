"""Bad weekly inputs fail with ValueErrors that name what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.weekly.features import (
    attach_weekly_features,
    features_from_weekly_bars,
    weekly_bars,
    weekly_features,
)


@pytest.fixture
def daily() -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=6)
    close = np.arange(1.0, 7.0)
    one = pd.DataFrame({"date": dates, "open": close, "high": close, "low": close,
                        "close": close, "volume": 10.0})  # fmt: skip
    return pd.concat([one.assign(symbol="AAA"), one.assign(symbol="BBB")], ignore_index=True)


def test_missing_columns_are_named(daily: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing high, volume"):
        weekly_bars(daily.drop(columns=["high", "volume"]))


def test_duplicate_symbol_dates_are_named(daily: pd.DataFrame) -> None:
    doubled = pd.concat([daily, daily.iloc[[7, 8]]])
    with pytest.raises(ValueError, match=r"2 duplicate rows, e\.g\. \('BBB', 2024-01-02\)"):
        weekly_features(doubled)


@pytest.mark.parametrize("bad", [0.0, -3.0, np.nan])
def test_non_positive_or_missing_closes_are_named(daily: pd.DataFrame, bad: float) -> None:
    broken = daily.copy()
    broken.loc[9, "close"] = bad
    with pytest.raises(ValueError, match=r"close > 0; got 1 rows.*'BBB', 2024-01-04"):
        weekly_bars(broken)


def test_dates_must_be_naive_datetimes(daily: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"'date' must be tz-naive datetime64; got str"):
        weekly_bars(daily.assign(date=daily["date"].dt.strftime("%Y-%m-%d")))
    with pytest.raises(ValueError, match=r"got datetime64\[us, UTC\]"):
        weekly_bars(daily.assign(date=daily["date"].dt.tz_localize("UTC")))
    with pytest.raises(ValueError, match=r"1 missing dates"):
        weekly_bars(daily.assign(date=daily["date"].where(daily.index != 3)))


def test_prices_must_be_numeric_and_symbols_present(daily: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"'open' must be float or integer; got str"):
        weekly_bars(daily.assign(open=daily["open"].astype(str)))
    with pytest.raises(ValueError, match=r"1 rows with a missing symbol"):
        weekly_bars(daily.assign(symbol=daily["symbol"].where(daily.index != 0)))
    with pytest.raises(ValueError, match=r"must be a pandas DataFrame; got dict"):
        weekly_bars({"symbol": []})  # type: ignore[arg-type]


def test_weekly_inputs_are_checked_too(daily: pd.DataFrame) -> None:
    bars = weekly_bars(daily)
    with pytest.raises(ValueError, match=r"one row per \(symbol, week_end\)"):
        features_from_weekly_bars(pd.concat([bars, bars.iloc[[0]]]))
    with pytest.raises(ValueError, match=r"weekly features needs columns.*missing week_end"):
        attach_weekly_features(daily, bars.drop(columns="week_end"))
    with pytest.raises(ValueError, match=r"missing nope"):
        attach_weekly_features(daily, bars, columns=["nope"])


def test_inputs_are_not_mutated(daily: pd.DataFrame) -> None:
    before = daily.copy()
    attach_weekly_features(daily, weekly_features(daily))
    pd.testing.assert_frame_equal(daily, before)
