"""sec_fundamentals and daily_with_sec_fundamentals materialized from a recorded EDGAR."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.company.sec_facts import company_facts
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.filings.edgar import EdgarResource
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.sec_fundamentals import (
    daily_with_sec_fundamentals,
    fact_check_results,
    sec_fundamentals,
    sec_join_check,
)
from memwise_assets_tests.builders.edgar_server import RecordedEdgar, serving
from memwise_assets_tests.builders.stored_assets import stored_asset

FIXTURES = Path(__file__).parents[2] / "fixtures"
FACTS = FIXTURES / "sec_facts"
TESLA, SNOWFLAKE, UNKNOWN = 1318605, 1640147, 999


@stored_asset("daily_bars")
def stand_in_daily_bars() -> pd.DataFrame:
    """Daily bars for the join, unpartitioned."""
    return SamplePriceSource().fetch(["TSLA", "AAPL"], "2019-01-02", "2022-12-30").frame


def _edgar() -> RecordedEdgar:
    edgar = RecordedEdgar()
    edgar.routes["/files/company_tickers.json"] = (
        200,
        (FIXTURES / "edgar" / "company_tickers.json").read_bytes(),
    )
    for cik in (TESLA, SNOWFLAKE):
        body = (FACTS / f"companyfacts_CIK{cik:010d}.json").read_bytes()
        edgar.routes[f"/api/xbrl/companyfacts/CIK{cik:010d}.json"] = (200, body)
    body = (FACTS / f"submissions_CIK{TESLA:010d}.json").read_bytes()
    edgar.routes[f"/submissions/CIK{TESLA:010d}.json"] = (200, body)
    return edgar


@pytest.fixture
def run(memwise_resources, tmp_path):
    with serving(_edgar()) as edgar:
        resources = {
            **memwise_resources,
            "filings": FilingsResource(
                landing_dir=str(tmp_path / "landing"),
                dead_letter_path=str(tmp_path / "dead.sqlite"),
            ),
            "edgar": EdgarResource(
                user_agent="memwise tests tests@example.com",
                tickers=["TSLA"],
                ciks=[SNOWFLAKE, UNKNOWN],
                data_base_url=edgar.base_url,
                www_base_url=edgar.base_url,
                retries=0,
            ),
        }
        result = dg.materialize(
            [sec_fundamentals, stand_in_daily_bars, daily_with_sec_fundamentals],
            resources=resources,
            run_config={"ops": {"sec_fundamentals": {"config": {"source": "edgar"}}}},
        )
        yield result, Path(memwise_resources["io_manager"].base_dir), edgar, tmp_path


def test_stored_facts_and_company_reports(run) -> None:
    result, root, edgar, tmp = run
    assert result.success
    facts = pd.read_parquet(root / "sec_fundamentals.parquet")
    assert set(facts["cik"]) == {TESLA, SNOWFLAKE}
    tesla = facts[facts["cik"] == TESLA]
    assert set(tesla["ticker"]) == {"TSLA"} and tesla["accepted_at"].notna().any()
    fy2021 = tesla[
        (tesla["line_item"] == "revenue")
        & (tesla["period_end"] == "2021-12-31")
        & (tesla["period_start"] == "2021-01-01")
        & tesla["first_reported"]
    ]
    assert fy2021["value"].item() == 53_823e6
    assert fy2021["public_session"].item() == pd.Timestamp("2022-02-07")
    meta = result.asset_materializations_for_node("sec_fundamentals")[0].metadata
    assert meta["memwise/companies"].value == 3 and meta["memwise/companies_failed"].value == 1
    assert "HTTP 404" in meta["memwise/company_reports"].value
    assert "memwise/peak_rss_mb" in meta
    # Every request declared who we are; the responses were kept for the next run.
    assert {agent for _, _, agent in edgar.log} == {"memwise tests tests@example.com"}
    assert (tmp / "landing" / "companyfacts" / f"companyfacts_CIK{TESLA:010d}.json").is_file()
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert all(e.passed for e in checks.values()), checks
    assert {"one_first_and_one_latest_per_fact", "no_sec_fundamental_look_ahead"} <= set(checks)


def test_stored_daily_rows_carry_only_public_values(run) -> None:
    result, root, _, _ = run
    joined = pd.read_parquet(root / "daily_with_sec_fundamentals")
    tsla = joined[joined["symbol"] == "TSLA"].set_index("date")
    assert tsla.loc["2022-04-22", "revenue_accession"] != "0000950170-22-006034"
    assert tsla.loc["2022-04-25", "revenue"] == 18_756e6
    assert tsla.loc["2022-04-25", "revenue_accession"] == "0000950170-22-006034"
    assert joined.loc[joined["symbol"] == "AAPL", "revenue"].isna().all()  # not followed
    meta = result.asset_materializations_for_node("daily_with_sec_fundamentals")[0].metadata
    assert meta["memwise/view"].value == "first_reported"


def test_the_checks_catch_bad_facts_and_a_leaky_join() -> None:
    facts, _ = company_facts(
        json.loads((FACTS / f"companyfacts_CIK{TESLA:010d}.json").read_text()),
        json.loads((FACTS / f"submissions_CIK{TESLA:010d}.json").read_text()),
    )
    assert all(r.passed for r in fact_check_results(facts))
    bad = facts.copy()
    bad.loc[bad.index[:3], "first_reported"] = ~bad.loc[bad.index[:3], "first_reported"]
    bad.loc[bad.index[5], "public_session"] = bad.loc[bad.index[5], "filed_date"] - pd.Timedelta(
        days=3
    )
    assert not any(r.passed for r in fact_check_results(bad))
    daily = SamplePriceSource().fetch(["TSLA"], "2015-01-02", "2022-12-30").frame
    honest = sec_daily(daily, facts)
    assert sec_join_check(daily, facts, honest).passed
    # A join that takes every report a month before it was public.
    early = facts.assign(public_session=facts["public_session"] - pd.Timedelta(days=30))
    leaky = sec_daily(daily, early)
    assert not sec_join_check(daily, facts, leaky).passed


def test_the_offline_sample_source_needs_no_edgar(memwise_resources) -> None:
    resources = {
        **memwise_resources,
        "edgar": EdgarResource(user_agent="memwise tests tests@example.com"),
    }
    config = {"source": "sample", "tickers": ["TSLA", "AAPL"]}
    result = dg.materialize(
        [sec_fundamentals, stand_in_daily_bars, daily_with_sec_fundamentals],
        resources=resources,
        run_config={"ops": {"sec_fundamentals": {"config": config}}},
    )
    root = Path(memwise_resources["io_manager"].base_dir)
    facts = pd.read_parquet(root / "sec_fundamentals.parquet")
    assert set(facts["ticker"]) == {"TSLA", "AAPL"}
    assert facts["restated"].any() and (facts["form"] == "10-K/A").any()
    assert facts["accepted_at"].notna().all()  # 16:05 New York: public the next session
    joined = pd.read_parquet(root / "daily_with_sec_fundamentals")
    assert joined["revenue"].notna().mean() > 0.9
    assert all(e.passed for e in result.get_asset_check_evaluations())
    meta = result.asset_materializations_for_node("sec_fundamentals")[0].metadata
    assert meta["memwise/source"].value == "sample" and "memwise/peak_rss_mb" in meta
