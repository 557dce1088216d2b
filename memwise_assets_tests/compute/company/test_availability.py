"""Point-in-time fundamentals: availability dates, and a join that never looks ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.company import (
    SampleCompanySource,
    YFinanceCompanySource,
    availability_dates,
    filed_dates_from_sections,
    filed_dates_from_submissions,
    join_fundamentals,
    read_filed_dates,
)
from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets_tests.builders.clock import FakeClock
from memwise_assets_tests.builders.company_replay import FIXTURES, RecordedYahoo

Q1_2024 = pd.Timestamp("2024-03-31")
Q1_2022 = pd.Timestamp("2022-03-31")
EDGAR = FIXTURES / "edgar"


@pytest.fixture(scope="module")
def recorded() -> pd.DataFrame:
    clock = FakeClock()
    src = YFinanceCompanySource(ticker=RecordedYahoo(), clock=clock, sleep=clock.sleep)
    return src.fetch_fundamentals(["AAPL", "MSFT", "JPM"], fetched_at="2025-05-10").frame


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    bars = SamplePriceSource().fetch(["AAPL", "MSFT", "JPM"], "2020-06-01", "2025-05-10").frame
    return bars[["symbol", "date", "close"]]


def test_conservative_lags_and_filing_dates() -> None:
    fundamentals = SampleCompanySource().fetch_fundamentals(["AAPL"], "2025-06-01").frame
    # EDGAR's period of report is Apple's real quarter end (a Saturday), Yahoo's the month end.
    filed = {("AAPL", "2024-03-30"): "2024-05-03", ("AAPL", "2024-06-29"): "2024-06-01"}
    known = availability_dates(fundamentals, filed).set_index(["frequency", "period_end"])
    # Filed on Friday 2024-05-03: public from the next session, Monday.
    assert known.loc[("quarterly", Q1_2024), "available_date"] == pd.Timestamp("2024-05-06")
    assert known.loc[("quarterly", Q1_2024), "basis"] == "filed"
    # A "filing" before the period ended is bad data: the lag stands.
    # Non-accelerated with a 12b-25 extension: 45 + 5 days (2024-08-19), the next session.
    assert known.loc[("quarterly", "2024-06-30"), "available_date"] == pd.Timestamp("2024-08-20")
    # The December quarter is the fiscal year's last: it waits for the 10-K (90 + 15 days).
    assert known.loc[("quarterly", "2023-12-31"), "available_date"] == pd.Timestamp("2024-04-15")
    assert known.loc[("annual", "2023-12-31"), "available_date"] == pd.Timestamp("2024-04-15")
    assert (known.loc[known["basis"] == "lag"].index.get_level_values(1) != Q1_2024).all()


def test_q1_2024_never_appears_before_its_availability_date(recorded, daily) -> None:
    filed = {("MSFT", "2024-03-31"): "2024-04-25"}
    joined = join_fundamentals(daily, recorded, filed)
    for symbol, available in (
        ("AAPL", "2024-05-21"),
        ("MSFT", "2024-04-26"),
        ("JPM", "2024-05-21"),
    ):
        rows = joined[joined["symbol"] == symbol]
        carries = rows["period_end"] == Q1_2024
        assert rows.loc[carries, "date"].min() == rows.loc[rows["date"] >= available, "date"].min()
        assert not (rows.loc[rows["date"] < available, "period_end"] >= Q1_2024).any()
    aapl = joined[(joined["symbol"] == "AAPL") & (joined["date"] == "2024-05-21")]
    assert aapl["revenue"].item() == 90_753e6 and aapl["availability"].item() == "lag"
    assert joined.loc[joined["symbol"] == "JPM", "gross_profit"].isna().all()  # banks have none
    before = joined[joined["date"] < "2024-02-14"]
    assert before["period_end"].isna().all()  # Yahoo's history starts with 2023-12-31


def test_perturbing_any_period_changes_no_row_before_it_is_available() -> None:
    """The join's perturbation test: each period's figures, changed, move no earlier row."""
    tickers = ["AAPL", "KO"]
    fundamentals = SampleCompanySource(seed=3).fetch_fundamentals(tickers, "2025-06-01").frame
    bars = SamplePriceSource().fetch(tickers, "2021-01-04", "2025-06-01").frame
    rng = np.random.default_rng(7)
    periods = fundamentals[fundamentals["frequency"] == "quarterly"][["ticker", "period_end"]]
    periods = periods.drop_duplicates().astype({"ticker": str})
    # Filing dates for half the periods, 20 to 70 days after the end (some beyond the lag).
    chosen = periods.sample(frac=0.5, random_state=1)
    filed = {
        (t, p): p + pd.Timedelta(days=int(d))
        for (t, p), d in zip(chosen.itertuples(index=False), rng.integers(20, 70, len(chosen)),
                             strict=True)
    }  # fmt: skip
    base = join_fundamentals(bars, fundamentals, filed)
    known = availability_dates(fundamentals, filed)
    known = known[known["frequency"] == "quarterly"].set_index(["ticker", "period_end"])
    figures = [
        c for c in base.columns if c not in (*bars.columns, "available_date", "availability")
    ]
    for (ticker, period_end), row in known.iterrows():
        if period_end < pd.Timestamp("2020-06-30"):
            continue
        hit = (fundamentals["ticker"] == ticker) & (fundamentals["period_end"] == period_end)
        moved = fundamentals.copy()
        moved.loc[hit, "value"] = moved.loc[hit, "value"] * 1e6 + 1
        again = join_fundamentals(bars, moved, filed)
        early = (base["symbol"] == ticker) & (base["date"] < row["available_date"])
        pd.testing.assert_frame_equal(again.loc[early, figures], base.loc[early, figures])
        late = (base["symbol"] == ticker) & (base["period_end"] == period_end)
        if late.any():  # the change does reach the rows that carry that period
            assert (again.loc[late, "revenue"] != base.loc[late, "revenue"]).all()
    assert (base["available_date"].isna() | (base["available_date"] <= base["date"])).all()


def test_a_late_filing_never_steps_a_row_back_to_an_older_period() -> None:
    fundamentals = SampleCompanySource().fetch_fundamentals(["AAPL"], "2025-06-01").frame
    # Q1 filed only after Q2's lag date: once Q2 shows, Q1 must not replace it.
    filed = {("AAPL", "2024-03-31"): "2024-09-01"}
    bars = SamplePriceSource().fetch(["AAPL"], "2024-01-02", "2024-12-31").frame
    joined = join_fundamentals(bars, fundamentals, filed)
    ends = joined["period_end"].dropna()
    assert ends.is_monotonic_increasing and Q1_2024 not in set(ends)


def test_filed_dates_from_filing_sections_and_bad_input() -> None:
    sections = pd.DataFrame(
        {
            "ticker": ["AAPL", "AAPL", "AAPL", "MSFT"],
            "form": ["10-Q", "10-Q", "8-K", "10-K"],
            "period_of_report": ["2024-03-30", "2024-03-30", "2024-05-01", "2024-06-30"],
            "filed_date": ["2024-05-03", "2024-05-03", "2024-05-02", "2024-07-30"],
            "item": ["1", "2", "1", "7"],
        }
    )
    filed = filed_dates_from_sections(sections)
    assert filed[["ticker", "filed_date"]].astype(str).values.tolist() == [
        ["AAPL", "2024-05-03"], ["MSFT", "2024-07-30"],
    ]  # fmt: skip
    with pytest.raises(ValueError, match="need columns symbol, date"):
        join_fundamentals(pd.DataFrame({"ticker": []}), pd.DataFrame())
    with pytest.raises(ValueError, match="filed dates need columns"):
        availability_dates(SampleCompanySource().fetch_fundamentals(["A"]).frame, pd.DataFrame())


def test_real_edgar_filing_dates_make_tesla_quarters_available_earlier() -> None:
    """Tesla's EDGAR submissions (recorded ~2022) against a Yahoo recording of late 2022."""
    filed = read_filed_dates(EDGAR)
    by_period = filed.set_index("period_end")["filed_date"].dt.strftime("%Y-%m-%d")
    assert set(filed["ticker"]) == {"TSLA"} and len(filed) == 10  # 8-Ks and 10-K/As left out
    assert by_period["2022-03-31"] == "2022-04-25" and by_period["2021-12-31"] == "2022-02-07"
    clock = FakeClock()
    src = YFinanceCompanySource(ticker=RecordedYahoo(), clock=clock, sleep=clock.sleep)
    fundamentals = src.fetch_fundamentals(["TSLA"], fetched_at="2022-11-15").frame
    bars = SamplePriceSource().fetch(["TSLA"], "2021-06-01", "2022-11-15").frame
    rows = join_fundamentals(bars, fundamentals, filed).set_index("date")
    assert rows.loc["2022-04-25", "period_end"] == pd.Timestamp("2021-12-31")
    assert rows.loc["2022-04-26", "period_end"] == Q1_2022
    assert rows.loc["2022-04-26", "revenue"] == 18_756e6
    assert rows.loc["2022-04-26", "availability"] == "filed"
    lagged = join_fundamentals(bars, fundamentals).set_index("date")
    first = lagged.index[lagged["period_end"] == Q1_2022].min()
    assert first == pd.Timestamp("2022-05-23")  # 2022-03-31 + 50 days is Friday 05-20
    annual = join_fundamentals(bars, fundamentals, filed, frequency="annual").set_index("date")
    assert annual.loc["2022-02-08", "revenue"] == 53_823e6  # the 10-K of 2022-02-07
    assert annual.loc["2022-02-07", "revenue"] == 31_536e6  # still the 2020 year
    with pytest.raises(ValueError, match="filings.recent.form"):
        filed_dates_from_submissions({"filings": {}})
