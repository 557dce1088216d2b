"""`dagster asset materialize`: a year of daily partitions as one run, stored and reported."""

import json

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.prices import trading_days
from memwise_assets_tests.e2e.helpers import run_cli, tool


@pytest.mark.e2e
def test_year_backfill_runs_as_one_run_and_stores_every_trading_day(dagster_home) -> None:
    result = run_cli(
        [
            tool("dagster"),
            "asset",
            "materialize",
            "-m",
            "memwise_assets.definitions",
            "--select",
            "daily_bars",
            "--partition-range",
            "2024-01-02...2024-12-31",
            "--config-json",
            json.dumps({"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT", "JPM"]}}}}),
        ],
        dagster_home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    days = trading_days("2024-01-02", "2025-01-01")
    assert len(days) == 252
    folder = dagster_home / "memwise" / "data" / "daily_bars"
    stored = sorted(p.stem for p in folder.glob("*.parquet"))
    assert stored == [d.strftime("%Y-%m-%d") for d in days]
    july_4th = folder / "2024-07-04.parquet"
    assert not july_4th.exists(), "holidays are not partitions"
    day = pd.read_parquet(folder / "2024-03-15.parquet")
    assert sorted(day["symbol"].astype(str)) == ["AAPL", "JPM", "MSFT"]
    assert (day["date"] == pd.Timestamp("2024-03-15")).all()

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    runs = instance.get_run_records()
    assert len(runs) == 1, "a single-run backfill"
    records = instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=300).records
    assert len(records) == 252
    meta = records[0].asset_materialization.metadata
    assert meta["dagster/row_count"].value == 3 * 252
    assert meta["memwise/tickers_returned"].value == 3
    assert meta["memwise/within_limit"].value is True
    assert meta["memwise/limit_mb"].value == 500.0
    assert 0 < meta["memwise/rss_increase_mb"].value < 500
    summary = json.loads(
        (
            dagster_home
            / "memwise"
            / "data"
            / "_runs"
            / runs[0].dagster_run.run_id
            / "batch_execution_metrics.json"
        ).read_text()
    )
    assert summary["execution"]["rows"] == 3 * 252
