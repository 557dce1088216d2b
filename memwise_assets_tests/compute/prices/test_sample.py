"""SamplePriceSource: contract layout, determinism across ranges and universes, realism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.prices import (
    BAR_COLUMNS,
    DEFAULT_TICKERS,
    SamplePriceSource,
    bars_issues,
    trading_days,
)


@pytest.fixture(scope="module")
def decade() -> pd.DataFrame:
    """66 default tickers over 10 years, fetched once for the module."""
    return SamplePriceSource(seed=0).fetch(list(DEFAULT_TICKERS), "2015-01-01", "2025-01-01").frame


def test_default_universe_is_66_distinct_tickers() -> None:
    assert len(DEFAULT_TICKERS) == 66 == len(set(DEFAULT_TICKERS))


def test_contract_layout(decade: pd.DataFrame) -> None:
    assert list(decade.columns) == list(BAR_COLUMNS)
    assert isinstance(decade["symbol"].dtype, pd.CategoricalDtype)
    assert list(decade["symbol"].cat.categories) == sorted(DEFAULT_TICKERS)
    assert decade["date"].dtype == "datetime64[ns]"
    assert decade[["open", "high", "low", "close", "adj_close"]].dtypes.eq("float64").all()
    assert decade["volume"].dtype == "int64"
    assert isinstance(decade.index, pd.RangeIndex)
    codes = decade["symbol"].cat.codes.to_numpy()
    dates = decade["date"].to_numpy()
    same = codes[1:] == codes[:-1]
    assert (np.diff(codes) >= 0).all() and (dates[1:][same] > dates[:-1][same]).all()


def test_only_trading_days_and_full_coverage(decade: pd.DataFrame) -> None:
    days = trading_days("2015-01-01", "2025-01-01")
    assert set(decade["date"]) == set(days)
    msft = decade[decade["symbol"] == "MSFT"]
    assert list(msft["date"]) == list(days)


def test_ohlc_consistent_and_positive_volume(decade: pd.DataFrame) -> None:
    assert bars_issues(decade) == {
        "duplicates": 0, "nan_close": 0, "nan_price": 0, "ohlc_inconsistent": 0,
        "nonpositive_price": 0, "negative_volume": 0, "non_finite": 0,
    }  # fmt: skip
    assert (decade["volume"] > 0).all()
    assert (decade["low"] <= decade["high"]).all()


def test_volatility_clusters_and_jumps(decade: pd.DataFrame) -> None:
    ret = np.log(decade["close"]).groupby(decade["symbol"], observed=True).diff().dropna()
    assert 0.008 < ret.std() < 0.03
    a = ret.abs().to_numpy()
    # |r_t| is autocorrelated under clustered volatility (near 0 for i.i.d. returns).
    assert np.corrcoef(a[1:], a[:-1])[0, 1] > 0.1
    z = ret / ret.std()
    assert (z.abs() > 6).sum() > 5  # fat tails: occasional jumps


def test_partitions_fetched_separately_equal_a_range_fetch(decade: pd.DataFrame) -> None:
    src = SamplePriceSource(seed=0)
    days = trading_days("2019-03-01", "2019-03-08")
    parts = [src.fetch(["AAPL", "KO"], d, d + pd.Timedelta(days=1)).frame for d in days]
    joined = pd.concat(parts, ignore_index=True).sort_values(["symbol", "date"], ignore_index=True)
    whole = decade[decade["symbol"].isin(["AAPL", "KO"]) & decade["date"].isin(days)]
    whole = whole.reset_index(drop=True)
    assert len(joined) == 10
    pd.testing.assert_frame_equal(joined, whole, check_categorical=False)


def test_a_ticker_does_not_depend_on_the_other_tickers(decade: pd.DataFrame) -> None:
    alone = SamplePriceSource(seed=0).fetch(["nvda"], "2020-01-01", "2020-02-01").frame
    among = decade[(decade["symbol"] == "NVDA") & (decade["date"] >= "2020-01-01")]
    among = among[among["date"] < "2020-02-01"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, among, check_categorical=False)


def test_seed_changes_the_paths() -> None:
    a = SamplePriceSource(seed=0).fetch(["AAPL"], "2024-01-02", "2024-01-10").frame
    b = SamplePriceSource(seed=1).fetch(["AAPL"], "2024-01-02", "2024-01-10").frame
    assert not np.allclose(a["close"], b["close"])
    again = SamplePriceSource(seed=0).fetch(["AAPL"], "2024-01-02", "2024-01-10").frame
    pd.testing.assert_frame_equal(a, again)


def test_late_listings_and_delistings_are_reported() -> None:
    res = SamplePriceSource().fetch(["PYPL", "LVLT", "AAPL"], "2015-01-01", "2018-01-01")
    pypl, lvlt = res.report["PYPL"], res.report["LVLT"]
    assert pypl.status == "ok" and pypl.first_date == pd.Timestamp("2015-07-06")
    assert "listed 2015-07-06" in pypl.reason
    assert lvlt.status == "ok" and lvlt.last_date == pd.Timestamp("2017-11-01")
    assert "delisted after 2017-11-01" in lvlt.reason
    later = SamplePriceSource().fetch(["LVLT", "AAPL"], "2020-01-01", "2020-02-01")
    assert later.report["LVLT"].status == "empty" and later.report["LVLT"].rows == 0
    assert later.empty == ["LVLT"] and later.failed == []
    assert later.summary()["tickers_returned"] == 1


def test_adj_close_never_exceeds_close_and_weekend_range_is_empty() -> None:
    res = SamplePriceSource().fetch(["KO", "JNJ"], "2024-01-02", "2024-02-01")
    assert (res.frame["adj_close"] <= res.frame["close"]).all()
    weekend = SamplePriceSource().fetch(["KO"], "2024-01-06", "2024-01-08")
    assert weekend.frame.empty and weekend.report["KO"].status == "empty"
    assert list(weekend.frame.columns) == list(BAR_COLUMNS)


def test_calendar_edges_are_served() -> None:
    early = SamplePriceSource().fetch(["IBM"], "1971-01-01", "1971-01-15").frame
    late = SamplePriceSource().fetch(["IBM"], "2099-12-20", "2100-01-01").frame
    assert early["date"].iloc[0] == pd.Timestamp("1971-01-04")
    assert list(late["date"]) == list(trading_days("2099-12-20", "2100-01-01"))


def test_ar1_scan_is_the_recursion_and_each_row_stands_alone() -> None:
    from memwise_assets.compute.prices.sample import SCAN, ar1

    shocks = np.random.default_rng(7).standard_normal((3, 3 * SCAN + 17))
    for phi in (0.98, 0.9995):
        plain = np.zeros_like(shocks)
        y = np.zeros(3)
        for d in range(shocks.shape[1]):
            y = phi * y + shocks[:, d]
            plain[:, d] = y
        scanned = ar1(shocks, phi)
        np.testing.assert_allclose(scanned, plain, rtol=0, atol=1e-12)
        # Bit for bit: a row alone, or cut shorter, gives the same values.
        assert np.array_equal(ar1(shocks[1:2], phi)[0], scanned[1])
        assert np.array_equal(ar1(shocks[:, : SCAN + 5], phi), scanned[:, : SCAN + 5])


def test_bars_across_block_boundaries_do_not_depend_on_the_range() -> None:
    # Trading day 1024 from the 1971 epoch is 1975-01-23, day 2048 is 1979-02-12: both crossed.
    src = SamplePriceSource(seed=2)
    long = src.fetch(["IBM", "XOM", "T123"], "1974-01-01", "1981-01-01").frame
    for ticker in ("IBM", "T123"):
        for a, b in (("1975-01-01", "1975-03-01"), ("1978-12-01", "1979-03-01")):
            alone = src.fetch([ticker], a, b).frame
            part = long[(long["symbol"] == ticker) & (long["date"] >= a) & (long["date"] < b)]
            pd.testing.assert_frame_equal(
                alone.assign(symbol=alone["symbol"].astype(str)),
                part.reset_index(drop=True).assign(symbol=part["symbol"].astype(str).values),
                check_exact=True,
            )
