"""SEC fundamentals on Tesla's and Snowflake's recorded companyfacts: reports, views, daily join."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.acceptance import filer_clock, parse_acceptance
from memwise_assets.compute.company.sec_facts import (
    COLUMNS,
    LINE_ITEMS,
    company_facts,
    first_reported,
    latest,
)
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.point_in_time import public_session
from memwise_assets.compute.prices import trading_days

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sec_facts"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def submissions() -> dict:
    return _load("submissions_CIK0001318605.json")


@pytest.fixture(scope="module")
def tesla(submissions) -> pd.DataFrame:
    facts, dropped = company_facts(_load("companyfacts_CIK0001318605.json"), submissions)
    assert dropped == 0
    return facts


def _daily(symbol: str, start: str, end: str) -> pd.DataFrame:
    days = trading_days(start, end)
    return pd.DataFrame({"symbol": symbol, "date": days, "close": np.linspace(1, 2, len(days))})


def _revenue(facts: pd.DataFrame, low: int, high: int) -> pd.DataFrame:
    rows = facts[facts["line_item"] == "revenue"]
    days = (rows["period_end"] - rows["period_start"]).dt.days
    return rows[days.between(low, high)]


def test_long_form_columns_and_flags(tesla) -> None:
    assert list(tesla.columns) == COLUMNS
    assert set(tesla["line_item"].dropna()) == set(LINE_ITEMS)
    assert (tesla["cik"] == 1318605).all() and set(tesla["ticker"]) == {"TSLA"}
    facts = tesla[tesla["line_item"].notna()]
    key = ["line_item", "unit", "period_start", "period_end"]
    per = facts.groupby(key, dropna=False)[["first_reported", "latest"]].sum()
    assert (per == 1).all().all()


@pytest.mark.parametrize(("low", "high"), [(80, 100), (340, 380)])
def test_every_revenue_first_report_against_the_submissions(tesla, submissions, low, high):
    recent = submissions["filings"]["recent"]
    filed = dict(zip(recent["accessionNumber"], recent["filingDate"], strict=True))
    raw = dict(zip(recent["accessionNumber"], recent["acceptanceDateTime"], strict=True))
    clock = filer_clock(submissions)
    firsts = first_reported(_revenue(tesla, low, high))
    assert len(firsts) >= (30 if low == 80 else 10)
    # Independent of the code: the earliest filed report of each period in the raw JSON.
    payload = _load("companyfacts_CIK0001318605.json")["facts"]["us-gaap"]
    for row in firsts.itertuples():
        reports = [
            r
            for concept in ("Revenues", "RevenueFromContractWithCustomerExcludingAssessedTax")
            for r in payload.get(concept, {}).get("units", {}).get("USD", [])
            if r.get("start") == f"{row.period_start:%Y-%m-%d}"
            and r["end"] == f"{row.period_end:%Y-%m-%d}"
        ]
        earliest = min(r["filed"] for r in reports)
        assert f"{row.filed_date:%Y-%m-%d}" == earliest
        assert row.value in {r["val"] for r in reports if r["filed"] == earliest}
        if row.accession in filed:  # submissions list filings from 2013-12 on
            assert filed[row.accession] == f"{row.filed_date:%Y-%m-%d}"
            accepted = parse_acceptance(raw[row.accession], clock=clock)
            assert row.accepted_at == accepted
            session = public_session(pd.Series([accepted]), pd.Series([row.filed_date]))
            assert row.public_session == session.iloc[0]
            # Public from the first session opening after acceptance, never before filing.
            opens = (pd.Timestamp(row.public_session) + pd.Timedelta("9h30min")).tz_localize(
                "America/New_York"
            )
            assert opens > accepted and row.public_session >= row.filed_date
        else:
            assert pd.isna(row.accepted_at)
            assert row.public_session > row.filed_date  # date only: the next session


def test_known_first_reports(tesla) -> None:
    annual = first_reported(_revenue(tesla, 340, 380)).set_index("period_end")
    fy2021 = annual.loc[pd.Timestamp("2021-12-31")]
    assert fy2021["value"] == 53_823e6 and fy2021["accession"] == "0000950170-22-000796"
    # Accepted Friday 2022-02-04 20:11 New York: public from Monday's session.
    assert fy2021["public_session"] == pd.Timestamp("2022-02-07")
    fy2014 = annual.loc[pd.Timestamp("2014-12-31")]
    assert fy2014["filed_date"] == pd.Timestamp("2015-02-26")
    assert fy2014["public_session"] == pd.Timestamp("2015-02-27")  # accepted 17:13


def test_amendments_are_later_accessions(tesla) -> None:
    facts = tesla[tesla["line_item"].notna()].copy()
    facts["start"] = facts["period_start"].fillna(pd.Timestamp(0))
    key = ["line_item", "unit", "start", "period_end"]
    earliest = facts.groupby(key)["filed_date"].transform("min")
    # The first report of every fact is its earliest filing; amendments come after it.
    assert (
        facts.loc[facts["first_reported"], "filed_date"] == earliest[facts["first_reported"]]
    ).all()
    amended = facts[facts["form"] == "10-K/A"]
    repeated = amended[~amended["first_reported"]]
    assert len(repeated) > 20
    assert (repeated["filed_date"] > earliest[repeated.index]).all()
    assert set(amended["accession"]) >= {"0001193125-12-137560"}


def test_latest_view_carries_the_accession_that_changed_it(tesla) -> None:
    eps = tesla[(tesla["line_item"] == "eps_diluted") & (tesla["period_end"] == "2019-09-30")]
    eps = eps[(eps["period_end"] - eps["period_start"]).dt.days.between(80, 100)]
    first, last = first_reported(eps).iloc[0], latest(eps).iloc[0]
    assert first["value"] == 0.78 and first["form"] == "10-Q"  # before the 2020 split
    assert last["value"] != first["value"] and last["restated"]
    assert last["filed_date"] > first["filed_date"]
    later = eps[eps["filed_date"] > last["filed_date"]]
    assert (later["value"] == last["value"]).all()  # repeated, not changed again


@pytest.mark.parametrize("view", ["first_reported", "as_known"])
def test_daily_rows_never_carry_a_later_filing(tesla, view) -> None:
    daily = _daily("TSLA", "2012-01-03", "2022-12-30")
    joined = sec_daily(daily, tesla, view=view)
    public = tesla.set_index("accession")["public_session"].groupby(level=0).min()
    for item in LINE_ITEMS:
        carried = joined[f"{item}_accession"].dropna()
        assert (public.reindex(carried).to_numpy() <= joined.loc[carried.index, "date"]).all()
    q1 = joined.set_index("date")
    assert pd.isna(q1.loc["2022-04-22", "revenue"]) or q1.loc["2022-04-22", "revenue"] != 18_756e6
    assert q1.loc["2022-04-25", "revenue"] == 18_756e6  # accepted Saturday 2022-04-23


def test_as_known_takes_a_restatement_from_its_own_session(tesla) -> None:
    # Tesla's FY2015 total assets: 8,092.46 M in the 10-K, restated to 8,067.939 M in the
    # 10-Q for Q1 2016 (accession 0001564590-16-018886).
    restated = tesla[
        (tesla["line_item"] == "total_assets")
        & (tesla["period_end"] == "2015-12-31")
        & (tesla["accession"] == "0001564590-16-018886")
    ].iloc[0]
    assert restated["restated"] and restated["value"] == 8_067_939e3
    daily = _daily("TSLA", "2016-01-04", "2017-03-31")
    args = {"frequency": "annual", "items": ["total_assets"], "max_age_days": None}
    first = sec_daily(daily, tesla, **args).set_index("date")["total_assets"]
    known = sec_daily(daily, tesla, view="as_known", **args).set_index("date")["total_assets"]
    differs = first.index[first != known]
    assert differs.min() == restated["public_session"]  # from its own session, not before
    assert (first.loc[differs] == 8_092_460e3).all() and (known.loc[differs] == 8_067_939e3).all()
    assert (
        first[first.index < restated["public_session"]]
        == known[known.index < restated["public_session"]]
    ).all()


def test_staleness_drops_old_values(tesla) -> None:
    daily = _daily("TSLA", "2022-10-03", "2024-01-02")
    joined = sec_daily(daily, tesla, items=["revenue"]).set_index("date")
    age = joined.index - joined["revenue_period_end"]
    assert (age.dropna() <= pd.Timedelta(days=200)).all()
    assert joined.loc["2023-12-29", "revenue"] != joined.loc["2023-12-29", "revenue"]  # NaN
    unlimited = sec_daily(daily, tesla, items=["revenue"], max_age_days=None).set_index("date")
    assert unlimited.loc["2023-12-29", "revenue"] == 21_454e6


def test_snowflake_and_bad_values() -> None:
    payload = _load("companyfacts_CIK0001640147.json")
    facts, _ = company_facts(payload, ticker="SNOW")
    assert facts["accepted_at"].isna().all()  # no submissions: dates only
    assert (facts["public_session"] > facts["filed_date"]).all()
    broken = json.loads(json.dumps(payload))
    broken["facts"]["us-gaap"]["Assets"]["units"]["USD"][0]["val"] = "NaN"
    again, dropped = company_facts(broken, ticker="SNOW")
    assert dropped == 1 and np.isfinite(again["value"]).all()
    with pytest.raises(ValueError, match="companyfacts"):
        company_facts({"facts": {}})
