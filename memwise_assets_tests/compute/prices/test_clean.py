"""clean_bars and assemble: the order of raw rows never changes the bars or the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.compute.prices.clean import assemble, clean_bars

TICKERS = ["MSFT", "AAPL", "KO"]
START, END = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")


def _raw() -> pd.DataFrame:
    """Sample bars as a source would hand them over, with a duplicate, a hole and a bad price."""
    bars = SamplePriceSource(seed=5).fetch(TICKERS, START, END).frame
    raw = bars.assign(symbol=bars["symbol"].astype(str))
    repeat = raw.iloc[[10]].assign(close=raw["close"].iloc[10] + 1.0)  # later row wins
    broken = raw.iloc[[20]].assign(open=-1.0)
    return pd.concat([raw.drop(index=[20, 30]), repeat, broken], ignore_index=True)


def test_shuffled_rows_give_the_bars_and_issues_of_ordered_rows() -> None:
    raw = _raw()
    ordered, ordered_issues = clean_bars(raw, TICKERS, START, END)
    shuffled = raw.sample(frac=1.0, random_state=1).reset_index(drop=True)
    # The duplicate must stay after its original in input order for "keep last" to agree.
    later = shuffled.index[shuffled["close"] == raw["close"].iloc[-2]]
    shuffled = pd.concat([shuffled.drop(index=later), shuffled.loc[later]], ignore_index=True)
    mixed, mixed_issues = clean_bars(shuffled, TICKERS, START, END)
    pd.testing.assert_frame_equal(mixed, ordered)
    assert mixed_issues == ordered_issues
    symbol = raw["symbol"].iloc[10]
    assert ordered_issues[symbol]["duplicates_conflicting"] == 1
    assert sum(i.get("bad_price", 0) for i in ordered_issues.values()) == 1
    row = ordered[(ordered["symbol"] == symbol) & (ordered["date"] == raw["date"].iloc[10])]
    assert row["close"].item() == raw["close"].iloc[-2]


def test_cleaning_never_writes_into_the_raw_frame() -> None:
    raw = _raw().assign(adj_close=np.nan)  # adj_close is filled from close in the output
    before = raw.copy()
    frame, issues = clean_bars(raw, TICKERS, START, END)
    pd.testing.assert_frame_equal(raw, before)
    assert (frame["adj_close"] == frame["close"]).all()
    assert all(i["adj_close_from_close"] > 0 for i in issues.values())


def test_report_spans_match_a_groupby_of_the_bars() -> None:
    frame, issues = clean_bars(_raw(), TICKERS, START, END)
    report = assemble(frame, TICKERS, START, END, issues=issues, failed={}).report
    grouped = frame.groupby("symbol", observed=True)["date"].agg(["size", "min", "max"])
    for ticker in TICKERS:
        rep = report[ticker]
        assert (rep.rows, rep.first_date, rep.last_date) == tuple(grouped.loc[ticker])
    # Rows 20 (skipped: a negative open) and 30 (dropped) are AAPL's: two days missing.
    assert report["AAPL"].issues.get("missing_days") == 2
    assert "missing_days" not in report["KO"].issues
