"""The price checks on arrays count exactly what pandas' row-wise formulation counts."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.prices.checks import price_check_results


def _reference(frames: list[pd.DataFrame]) -> dict[str, int]:
    """The checks as pandas says them, frame by frame."""
    dupes = bad = nan_close = 0
    for frame in frames:
        dupes += int(frame.duplicated(["symbol", "date"]).sum())
        low_end = frame[["open", "close"]].min(axis=1)
        high_end = frame[["open", "close"]].max(axis=1)
        bad += int((~((frame["low"] <= low_end) & (high_end <= frame["high"]))).sum())
        nan_close += int(frame["close"].isna().sum())
    return {"duplicates": dupes, "inconsistent_rows": bad, "nan_close_rows": nan_close}


def _results(frames, requested, failed=()) -> dict[str, dict]:
    return {
        r.check_name: {"passed": r.passed, **{k: v.value for k, v in r.metadata.items()}}
        for r in price_check_results(frames, requested, failed)
    }


def test_clean_months_pass_every_check() -> None:
    bars = SamplePriceSource().fetch(["AAPL", "KO"], "2024-01-01", "2024-03-01").frame
    months = [g.reset_index(drop=True) for _, g in bars.groupby(bars["date"].dt.month)]
    results = _results(months, ["aapl", "KO"])
    assert all(r["passed"] for r in results.values())
    assert results["tickers_present_or_reported"]["unaccounted"] == "none"


def test_faults_are_counted_as_pandas_counts_them() -> None:
    bars = SamplePriceSource().fetch(["AAPL", "KO", "MSFT"], "2024-01-01", "2024-02-01").frame
    faulty = bars.copy()
    faulty.loc[3, "open"] = np.nan  # skipped by the row-wise min/max: still consistent
    faulty.loc[4, "close"] = np.nan  # a NaN close, and high/low then compare with open only
    faulty.loc[5, "low"] = np.nan  # no low: inconsistent
    faulty.loc[6, "high"] = faulty.loc[6, "low"] - 1  # high below low
    faulty.loc[[7, 8], ["open", "close"]] = np.nan  # nothing to bound: inconsistent
    faulty = pd.concat([faulty, faulty.iloc[[0, 9]]], ignore_index=True)  # two duplicates
    shuffled = faulty.sample(frac=1.0, random_state=3).reset_index(drop=True)
    plain = faulty.assign(symbol=faulty["symbol"].astype(str))  # not categorical
    frames = [shuffled, plain, bars]
    want = _reference(frames)
    assert want == {"duplicates": 4, "inconsistent_rows": 8, "nan_close_rows": 6}
    got = _results(frames, ["AAPL", "KO", "MSFT", "NVDA"], failed=["NVDA"])
    assert got["no_duplicate_symbol_date"]["duplicates"] == want["duplicates"]
    assert got["ohlc_consistent"]["inconsistent_rows"] == want["inconsistent_rows"]
    assert got["no_nan_close"]["nan_close_rows"] == want["nan_close_rows"]
    assert got["tickers_present_or_reported"] == {"passed": True, "unaccounted": "none"}
    missing = _results([bars[bars["symbol"] != "KO"]], ["AAPL", "KO", "MSFT"])
    assert missing["tickers_present_or_reported"] == {"passed": False, "unaccounted": "KO"}


def test_a_reported_ticker_without_data_still_warns() -> None:
    bars = SamplePriceSource().fetch(["AAPL", "KO"], "2024-01-01", "2024-02-01").frame
    results = price_check_results([bars], ["AAPL", "KO", "msft"], ["MSFT"])
    checks = {r.check_name: r for r in results}
    # Reported failed: accounted for, but the researcher who asked for MSFT has no MSFT.
    assert checks["tickers_present_or_reported"].passed
    warned = checks["every_ticker_has_data"]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.metadata["missing"].value == "MSFT"
    assert checks["every_ticker_has_data"].description == "1 requested tickers have no data"


def test_a_ticker_without_rows_in_the_range_is_listed_not_warned() -> None:
    # The sample's COH and LVLT stopped trading before 2024: known, not missing.
    bars = SamplePriceSource().fetch(["AAPL", "COH"], "2024-01-01", "2024-02-01").frame
    results = price_check_results([bars], ["AAPL", "COH"], ["COH"], empty=["COH"])
    warned = {r.check_name: r for r in results}["every_ticker_has_data"]
    assert warned.passed
    assert warned.metadata["no_rows_in_range"].value == "COH"
    assert warned.metadata["missing"].value == "none"
