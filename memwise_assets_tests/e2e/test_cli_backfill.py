"""`dagster asset materialize`: a year of monthly partitions as one run, stored and reported."""

import json

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.prices import trading_days
from memwise_assets.defs.figures import PEAK_KEY, StepFigures
from memwise_assets_tests.e2e.helpers import run_cli, tool

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


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
            "2024-01...2024-12",
            "--config-json",
            json.dumps({"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT", "JPM"]}}}}),
        ],
        dagster_home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    days = trading_days("2024-01-02", "2025-01-01")
    assert len(days) == 252
    folder = dagster_home / "memwise" / "data" / "daily_bars"
    assert sorted(p.stem for p in folder.glob("*.parquet")) == MONTHS, "one file per month"
    stored = pd.concat([pd.read_parquet(folder / f"{m}.parquet") for m in MONTHS])
    assert sorted(stored["date"].unique()) == list(days), "every trading day, no holiday"
    march = pd.read_parquet(folder / "2024-03.parquet")
    assert sorted(march["symbol"].astype(str).unique()) == ["AAPL", "JPM", "MSFT"]

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    runs = instance.get_run_records()
    assert len(runs) == 1, "a single-run backfill"
    records = instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=100).records
    assert sorted(r.partition_key for r in records) == MONTHS
    for record in records:
        meta = record.asset_materialization.metadata
        path = meta["memwise/path"].value
        assert path == str(folder / f"{record.partition_key}.parquet"), "its own file"
        assert meta["dagster/row_count"].value == len(pd.read_parquet(path))
    step = records[0].asset_materialization.metadata  # the newest: the step's last month
    assert records[0].partition_key == "2024-12"
    assert step["memwise/step_rows"].value == 3 * 252
    assert step["memwise/tickers_returned"].value == 3
    figures = StepFigures.from_metadata(step)
    assert figures is not None and figures.within_limit is True
    assert figures.limit_mb == 500.0
    assert 0 < figures.rss_increase_mb < 500
    assert sum(PEAK_KEY in r.asset_materialization.metadata for r in records) == 1
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
