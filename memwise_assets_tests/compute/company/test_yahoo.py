"""Company profiles and statements from recorded yfinance 1.x responses: failures, retries."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from memwise_assets.compute.company import (
    FUNDAMENTAL_COLUMNS,
    PROFILE_COLUMNS,
    STATEMENT_ATTRS,
    CompanyDataError,
    SampleCompanySource,
    YFinanceCompanySource,
)
from memwise_assets.compute.company.schema import profile_row, profiles_frame
from memwise_assets_tests.builders.clock import FakeClock
from memwise_assets_tests.builders.company_replay import RecordedYahoo

FETCHED = pd.Timestamp("2025-05-10 12:00", tz="UTC")
TICKERS = ["AAPL", "MSFT", "JPM", "ZZZZ"]


def source(replay: RecordedYahoo, clock: FakeClock | None = None, **kw) -> YFinanceCompanySource:
    clock = clock or FakeClock()
    return YFinanceCompanySource(ticker=replay, clock=clock, sleep=clock.sleep, **kw)


def test_profiles_with_a_failed_and_a_rate_limited_ticker() -> None:
    replay, clock = RecordedYahoo(), FakeClock()
    res = source(replay, clock).fetch_profiles(TICKERS, fetched_at=FETCHED)
    assert res.failed == ["ZZZZ"]
    assert "Quote not found for symbol: ZZZZ" in res.report["ZZZZ"].reason
    assert res.report["ZZZZ"].reason.startswith("no profile: 404 Client Error")
    # MSFT's first quoteSummary call was answered 429: retried once after 2 s.
    assert replay.asked.count(("MSFT", "info")) == 2 and 2.0 in clock.sleeps
    frame = res.frame.set_index("ticker")
    assert list(res.frame.columns) == list(PROFILE_COLUMNS) and len(frame) == 3
    aapl = frame.loc["AAPL"]
    assert (aapl["name"], aapl["sector"], aapl["exchange"]) == ("Apple Inc.", "Technology", "NMS")
    assert aapl["market_cap"] == 3397744050176 and aapl["shares_outstanding"] == 14935826000
    assert aapl["first_trade_date"] == pd.Timestamp("1980-12-12")
    assert frame.loc["JPM", "sector"] == "Financial Services"
    assert res.frame["fetched_at"].eq(pd.Timestamp("2025-05-10 12:00")).all()
    assert str(res.frame["sector"].dtype) == "category"
    assert str(res.frame["shares_outstanding"].dtype) == "Int64"


def test_fundamentals_long_format_from_recorded_statements() -> None:
    replay, clock = RecordedYahoo(), FakeClock()
    res = source(replay, clock).fetch_fundamentals(TICKERS, fetched_at=FETCHED)
    frame = res.frame
    assert list(frame.columns) == list(FUNDAMENTAL_COLUMNS)
    assert res.failed == ["ZZZZ"] and res.report["ZZZZ"].reason.startswith("no statements")
    assert res.report["JPM"].status == "ok" and "quarterly cash_flow" in res.report["JPM"].reason
    # MSFT's statements were rate limited once (raised): the whole ticker was asked again.
    assert replay.asked.count(("MSFT", "quarterly_income_stmt")) == 2
    assert res.report["MSFT"].rows == len(frame[frame["ticker"] == "MSFT"]) > 0
    key = (frame["ticker"] == "AAPL") & (frame["line_item"] == "TotalRevenue")
    q1 = frame[key & (frame["frequency"] == "quarterly") & (frame["period_end"] == "2024-03-31")]
    assert q1["value"].item() == 90_753e6 and q1["statement"].item() == "income"
    years = frame[key & (frame["frequency"] == "annual")]["period_end"].dt.year.tolist()
    assert years == [2021, 2022, 2023, 2024]
    # yfinance's NaN cells (the oldest quarter's EPS) are not rows.
    eps = frame[(frame["ticker"] == "AAPL") & (frame["line_item"] == "DilutedEPS")]
    assert pd.Timestamp("2023-12-31") not in set(eps[eps["frequency"] == "quarterly"]["period_end"])
    assert frame["value"].notna().all() and frame["period_end"].notna().all()
    assert frame["fetched_at"].eq(pd.Timestamp("2025-05-10 12:00")).all()
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    assert dtypes == {
        "ticker": "category", "statement": "category", "line_item": "category",
        "period_end": "datetime64[ns]", "frequency": "category", "value": "float64",
        "fetched_at": "datetime64[ns]",
    }  # fmt: skip


def test_every_ticker_failing_raises_and_endless_rate_limits_are_named() -> None:
    with pytest.raises(CompanyDataError, match="no profiles for any of 2"):
        source(RecordedYahoo()).fetch_profiles(["ZZZZ", "QQQQX"])
    replay = RecordedYahoo(rate_limited=("JPM",))
    res = source(replay, retries=2).fetch_profiles(["AAPL", "JPM"])
    assert res.failed == ["JPM"] and res.report["AAPL"].status == "ok"
    assert res.report["JPM"].reason.startswith("rate limited after 3 attempt(s)")
    assert replay.asked.count(("JPM", "info")) == 3


def test_requests_are_paced_through_the_bucket() -> None:
    clock = FakeClock()
    src = source(RecordedYahoo(), clock, threads=1, max_requests_per_s=10)
    src.fetch_fundamentals(["AAPL", "JPM"])  # 6 statement requests each: 12 at 10/s
    assert src.limiter.waited_s == pytest.approx(0.2)


def test_threads_give_the_same_frames_as_one_worker() -> None:
    one = source(RecordedYahoo(), threads=1).fetch_fundamentals(TICKERS, fetched_at=FETCHED)
    many = source(RecordedYahoo(), threads=4).fetch_fundamentals(TICKERS, fetched_at=FETCHED)
    pd.testing.assert_frame_equal(one.frame, many.frame)
    assert {t: r.reason for t, r in one.report.items()} == {
        t: r.reason for t, r in many.report.items()
    }


def test_attributes_read_exist_on_the_installed_yfinance_ticker() -> None:
    import yfinance

    members = dict(inspect.getmembers(yfinance.Ticker))
    for attr in ["info", *STATEMENT_ATTRS.values()]:
        assert isinstance(members.get(attr), property), attr


def test_sample_source_is_deterministic_and_never_ahead_of_its_fetch() -> None:
    a = SampleCompanySource(seed=1).fetch_fundamentals(["AAPL", "KO"], fetched_at="2024-06-01")
    b = SampleCompanySource(seed=1).fetch_fundamentals(["AAPL", "KO"], fetched_at="2024-06-01")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.frame["period_end"].max() == pd.Timestamp("2024-03-31")
    profiles = SampleCompanySource().fetch_profiles(["AAPL", "KO"]).frame
    assert profiles["market_cap"].gt(0).all() and len(profiles) == 2


def test_odd_profile_fields_become_nulls_not_failures() -> None:
    odd = {"quoteType": "EQUITY", "longName": "Odd Co.", "marketCap": "N/A",
           "sharesOutstanding": 1.5e9 + 0.4, "firstTradeDateMilliseconds": "soon"}  # fmt: skip
    frame = profiles_frame([profile_row("ODD", odd)], ["ODD"], FETCHED)
    assert pd.isna(frame.loc[0, "market_cap"]) and pd.isna(frame.loc[0, "first_trade_date"])
    assert frame.loc[0, "shares_outstanding"] == 1_500_000_000
