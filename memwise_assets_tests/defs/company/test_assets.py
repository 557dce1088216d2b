"""The company assets materialized from recorded yfinance responses: stored data, reports."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.company import CompanySource, YFinanceCompanySource
from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.company.assets import (
    FundamentalsJoinConfig,
    company_fundamentals,
    company_profiles,
    daily_with_fundamentals,
)
from memwise_assets.defs.company.resources import CompanyConfig, CompanyDataResource
from memwise_assets.defs.filings.features import FilingJoinConfig
from memwise_assets.defs.filings.sec_fundamentals import SecFundamentalsConfig, SecJoinConfig
from memwise_assets_tests.builders.clock import FakeClock
from memwise_assets_tests.builders.company_replay import RecordedYahoo
from memwise_assets_tests.builders.stored_assets import stored_asset

TICKERS = ["AAPL", "MSFT", "JPM", "ZZZZ"]


class RecordedCompanyData(CompanyDataResource):
    """The company resource over recorded yfinance responses, paced on a fake clock."""

    def source(self, config: CompanyConfig) -> CompanySource:
        if config.source == "sample":
            return super().source(config)
        clock = FakeClock()
        return YFinanceCompanySource(
            ticker=RecordedYahoo(), threads=self.threads, clock=clock, sleep=clock.sleep
        )


@stored_asset("daily_bars")
def stand_in_daily_bars() -> pd.DataFrame:
    """Daily bars for the join, unpartitioned: the join reads whatever daily_bars holds."""
    return SamplePriceSource().fetch(TICKERS[:3], "2023-06-01", "2025-05-09").frame


def _config(tickers: list[str]) -> dict:
    cfg = {"config": {"source": "yfinance", "tickers": tickers}}
    return {"ops": {"company_profiles": cfg, "company_fundamentals": cfg}}


@pytest.fixture
def resources(memwise_resources) -> dict:
    return {**memwise_resources, "company": RecordedCompanyData()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def test_both_assets_from_recorded_responses_report_the_failed_ticker(resources) -> None:
    assets = [company_profiles, company_fundamentals, stand_in_daily_bars, daily_with_fundamentals]
    result = dg.materialize(assets, resources=resources, run_config=_config(TICKERS))
    root = resources["io_manager"].root
    profiles = pd.read_parquet(root / "company_profiles.parquet")
    fundamentals = pd.read_parquet(root / "company_fundamentals.parquet")
    assert profiles["ticker"].astype(str).tolist() == ["AAPL", "MSFT", "JPM"]
    assert profiles.set_index("ticker").loc["MSFT", "name"] == "Microsoft Corporation"
    assert set(fundamentals["ticker"].astype(str)) == {"AAPL", "MSFT", "JPM"}
    assert str(fundamentals["line_item"].dtype) == "category"
    for asset in ("company_profiles", "company_fundamentals"):
        meta = result.asset_materializations_for_node(asset)[0].metadata
        assert meta["memwise/failed_tickers"].value == "ZZZZ"
        assert meta["memwise/tickers_returned"].value == 3
        assert "ZZZZ" in meta["memwise/ticker_report"].value
        assert "memwise/peak_rss_mb" in meta
    checks = _checks(result)
    for asset in ("company_profiles", "company_fundamentals"):
        warned = checks[(asset, "all_tickers_fetched")]
        assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
        assert warned.metadata["failed_tickers"].value == "ZZZZ"
        assert checks[(asset, "tickers_present_or_reported")].passed
    assert checks[("daily_with_fundamentals", "no_figure_before_available")].passed
    joined = pd.read_parquet(root / "daily_with_fundamentals")
    # No filing date: the non-accelerated deadline with a 12b-25 extension (50 days).
    row = joined[(joined["symbol"] == "AAPL") & (joined["date"] == "2024-05-21")]
    assert row["revenue"].item() == 90_753e6 and row["period_end"].item() == pd.Timestamp(
        "2024-03-31"
    )
    assert joined.loc[joined["date"] < "2024-05-21", "period_end"].max() < pd.Timestamp(
        "2024-03-31"
    )


def test_filing_dates_from_a_file_move_a_period_earlier(resources, tmp_path) -> None:
    filed = tmp_path / "filed.csv"
    pd.DataFrame(
        {"ticker": ["AAPL"], "period_end": ["2024-03-30"], "filed_date": ["2024-05-03"]}
    ).to_csv(filed, index=False)
    config = _config(["AAPL"])
    del config["ops"]["company_profiles"]
    config["ops"]["daily_with_fundamentals"] = {"config": {"filed_dates_path": str(filed)}}
    assets = [company_fundamentals, stand_in_daily_bars, daily_with_fundamentals]
    result = dg.materialize(assets, resources=resources, run_config=config)
    joined = pd.read_parquet(resources["io_manager"].root / "daily_with_fundamentals")
    aapl = joined[joined["symbol"] == "AAPL"].set_index("date")
    assert aapl.loc["2024-05-03", "period_end"] == pd.Timestamp("2023-12-31")
    assert aapl.loc["2024-05-06", "period_end"] == pd.Timestamp("2024-03-31")
    assert aapl.loc["2024-05-06", "availability"] == "filed"
    meta = result.asset_materializations_for_node("daily_with_fundamentals")[0].metadata
    assert meta["memwise/rows_by_filing_date"].value > 0


def test_the_run_fails_only_when_every_ticker_fails(resources) -> None:
    result = dg.materialize(
        [company_profiles],
        resources=resources,
        run_config={"ops": {"company_profiles": {"config": {"source": "yfinance",
                                                            "tickers": ["ZZZZ", "QQQQX"]}}}},
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no profiles for any of 2 ticker(s)" in failure.step_failure_data.error.message
    assert not (resources["io_manager"].root / "company_profiles.parquet").exists()


def test_sample_source_is_the_offline_default(resources) -> None:
    result = dg.materialize([company_profiles], resources=resources)
    frame = pd.read_parquet(resources["io_manager"].root / "company_profiles.parquet")
    assert len(frame) == 66 and frame["sector"].notna().all()
    meta = result.asset_materializations_for_node("company_profiles")[0].metadata
    assert (
        meta["memwise/source"].value == "sample" and meta["memwise/failed_tickers"].value == "none"
    )


def _config_table(path: Path, name: str) -> str:
    """The field table under `**`name`**` in a documentation file ("" when absent)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if f"**`{name}`**" not in text:
        return ""
    section = text[text.index(f"**`{name}`**") :] + "\n\n"
    return section[: section.index("\n\n", section.index("|---|"))]


@pytest.mark.parametrize(
    "cls",
    [CompanyConfig, CompanyDataResource, FundamentalsJoinConfig, SecFundamentalsConfig,
     SecJoinConfig, FilingJoinConfig],
)  # fmt: skip
def test_every_company_field_is_documented(cls: type) -> None:
    # The configuration reference (docs/configuration.md), or docs/research-conventions.md
    # for the point-in-time assets' settings.
    root = Path(__file__).parents[3]
    tables = "".join(
        _config_table(path, cls.__name__)
        for path in (root / "docs" / "configuration.md", root / "docs" / "research-conventions.md")
    )
    assert tables, f"{cls.__name__} has no field table in the docs"
    assert [f for f in cls.model_fields if f"| `{f}` |" not in tables] == []
