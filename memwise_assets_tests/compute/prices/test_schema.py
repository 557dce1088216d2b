"""Bars contract: input validation of fetch arguments, validate_bars and bars_issues."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.prices import (
    BAR_COLUMNS,
    SamplePriceSource,
    bars_issues,
    check_range,
    normalize_tickers,
    validate_bars,
)


def test_tickers_are_normalized_and_deduplicated() -> None:
    assert normalize_tickers([" aapl", "BRK-B", "brk.a", "^gspc", "AAPL", "es=f"]) == [
        "AAPL", "BRK-B", "BRK.A", "^GSPC", "ES=F",
    ]  # fmt: skip
    assert normalize_tickers("msft, ibm aapl") == ["MSFT", "IBM", "AAPL"]


@pytest.mark.parametrize("bad", ["AAPL;DROP TABLE", "../etc/passwd", "A B", "$AAPL", "", "X" * 21])
def test_injection_like_tickers_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"A-Z 0-9 \. - \^ ="):
        SamplePriceSource().fetch([bad], "2024-01-02", "2024-01-05")


def test_empty_ticker_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one ticker"):
        SamplePriceSource().fetch([], "2024-01-02", "2024-01-05")


@pytest.mark.parametrize(
    ("start", "end", "match"),
    [
        ("2024-02-01", "2024-01-01", "start < end"),
        ("2024-01-01", "2024-01-01", "start < end"),
        ("1900-01-01", "1901-01-01", "within"),
        ("2024-01-01", "2300-01-01", "within"),
        ("1971-01-01", "2099-01-01", "at most"),
        ("yesterday-ish", "2024-01-01", "expected a date"),
    ],
)
def test_reversed_or_absurd_ranges_are_rejected(start: str, end: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_range(start, end)


def test_range_accepts_tz_aware_and_datetime_values() -> None:
    start, end = check_range(pd.Timestamp("2024-01-02 15:30", tz="America/New_York"), "2024-01-05")
    assert start == pd.Timestamp("2024-01-02") and end == pd.Timestamp("2024-01-05")


def _bars() -> pd.DataFrame:
    return SamplePriceSource().fetch(["AAPL", "MSFT"], "2024-01-02", "2024-01-10").frame


def test_validate_bars_normalizes_a_shuffled_plain_frame() -> None:
    bars = _bars()
    messy = bars.sample(frac=1.0, random_state=1).astype({"symbol": str}).reset_index(drop=True)
    messy["date"] = messy["date"].dt.tz_localize("UTC")
    out = validate_bars(messy)
    assert list(out.columns) == list(BAR_COLUMNS)
    assert isinstance(out["symbol"].dtype, pd.CategoricalDtype)
    assert out["date"].dtype == "datetime64[ns]"
    pd.testing.assert_frame_equal(out, bars, check_categorical=False)
    assert messy["date"].dt.tz is not None  # the input was not mutated


def test_validate_bars_names_what_is_wrong() -> None:
    bars = _bars()
    with pytest.raises(ValueError, match=r"missing \['adj_close'\]"):
        validate_bars(bars.drop(columns=["adj_close"]))
    nan_close = bars.copy()
    nan_close.loc[3, "close"] = np.nan
    with pytest.raises(ValueError, match="1 NaN close"):
        validate_bars(nan_close)
    dup_msg = r"2 duplicate \(symbol, date\) rows, e.g. \['AAPL@2024-01-02"
    with pytest.raises(ValueError, match=dup_msg):
        validate_bars(pd.concat([bars, bars.iloc[:2]]))
    broken = bars.copy()
    broken.loc[0, "high"] = broken.loc[0, "low"] / 2
    with pytest.raises(ValueError, match="1 rows with low > min"):
        validate_bars(broken)
    assert len(validate_bars(broken, check_ohlc=False)) == len(bars)


def test_bars_issues_counts_each_violation() -> None:
    bars = _bars()
    assert bars_issues(bars) == {
        "duplicates": 0, "nan_close": 0, "nan_price": 0, "ohlc_inconsistent": 0,
        "nonpositive_price": 0, "negative_volume": 0, "non_finite": 0,
    }  # fmt: skip
    bad = pd.concat([bars, bars.iloc[:1]], ignore_index=True)
    bad.loc[1, "open"] = -1.0
    bad.loc[2, "volume"] = -5
    issues = bars_issues(bad)
    assert issues["duplicates"] == 1 and issues["nonpositive_price"] == 1
    assert issues["negative_volume"] == 1 and issues["ohlc_inconsistent"] == 1
