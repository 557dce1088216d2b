"""filing_text_features and daily_with_filing_features in Dagster, on four real 10-Ks."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.filings.metadata import sidecar_path
from memwise_assets.compute.prices import trading_days
from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.feature_checks import NO_FILING_LOOK_AHEAD, SAME_COMPANY
from memwise_assets.defs.filings.features import daily_with_filing_features, filing_text_features
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.worker import close_filing_pools
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets_tests.builders.stored_assets import stored_asset

FILINGS = Path(__file__).parents[2] / "fixtures" / "filings"
# Filing dates as EDGAR gives them; the FY2024 Tesla acceptance is set to 16:05 New York
# (its real time is not recorded) to show the after-close rule end to end.
SIDECARS = {
    "tesla_10-K_2023.htm": ("2024-01-29", "2024-01-26T21:30:00+00:00"),
    "tesla_10-K_2024.htm": ("2025-01-30", "2025-01-29T16:05:00-05:00"),
    "ibm_10-K_2023.htm": ("2024-02-26", None),
    "ibm_10-K_2024.htm": ("2025-02-25", None),
}


@stored_asset("daily_bars")
def fake_daily_bars() -> pd.DataFrame:
    """Daily rows of TSLA and IBM over the filings' dates (prices do not matter here)."""
    days = trading_days("2024-01-02", "2025-03-31")
    frame = pd.DataFrame(
        {"symbol": np.repeat(["IBM", "TSLA"], len(days)), "date": np.tile(days.values, 2)}
    )
    frame["symbol"] = frame["symbol"].astype("category")
    for column in ("open", "high", "low", "close"):
        frame[column] = 100.0
    frame["volume"] = 1
    return frame


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.DagsterInstance, dict]:
    home = tmp_path_factory.mktemp("home")
    landing = home / "landing"
    landing.mkdir()
    for name, (filed, accepted) in SIDECARS.items():
        with gzip.open(FILINGS / f"{name}.gz", "rb") as src, open(landing / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
        sidecar = {"filed_date": filed, "accepted_at": accepted}
        sidecar_path(landing / name).write_text(json.dumps(sidecar))
    resources = {
        "memory": MemoryResource(home_dir=str(home)),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        "filings": FilingsResource(
            landing_dir=str(landing), dead_letter_path=str(home / "dead.sqlite")
        ),
    }
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(filing_partitions.name, sorted(SIDECARS))
    assets = [fake_daily_bars, sec_filing_sections, filing_text_features]
    try:
        for key in sorted(SIDECARS):
            result = dg.materialize(
                [sec_filing_sections],
                partition_key=key,
                resources=resources,
                instance=instance,
                raise_on_error=True,
            )
        result = dg.materialize(
            [*assets, daily_with_filing_features],
            selection=["daily_bars", "filing_text_features", "daily_with_filing_features"],
            resources=resources,
            instance=instance,
        )
    finally:
        close_filing_pools()
    assert result.success
    data = home / "data"
    stored = {
        "filing_text_features": pd.read_parquet(data / "filing_text_features.parquet"),
        # Written by blocks: a version folder behind the asset's link.
        "daily_with_filing_features": pd.read_parquet(data / "daily_with_filing_features"),
    }
    return result, stored


def test_text_features_stored_one_row_per_filing(run) -> None:
    result, stored = run
    features = stored["filing_text_features"]
    assert len(features) == 4 and not features["filed_date_unknown"].any()
    later = features[features["period_of_report"].dt.year == 2024]
    assert later["prev_filing_id"].notna().all()
    assert (later["cosine_all"] > 0.9).all() and (later["jaccard_1a"] > 0.5).all()
    meta = result.asset_materializations_for_node("filing_text_features")[0].metadata
    assert meta["memwise/compared_filings"].value == 2
    assert "memwise/peak_rss_mb" in meta  # ran under the memory resource


def test_checks_pass(run) -> None:
    result, _ = run
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks[SAME_COMPANY] and checks[NO_FILING_LOOK_AHEAD]


def test_filing_accepted_1605_first_appears_on_next_trading_day(run) -> None:
    _, stored = run
    joined = stored["daily_with_filing_features"]
    tsla = joined[joined["symbol"] == "TSLA"].set_index("date")
    fy2024 = tsla["period_of_report"] == pd.Timestamp("2024-12-31")
    assert tsla.index[fy2024].min() == pd.Timestamp("2025-01-30")
    assert tsla.loc[pd.Timestamp("2025-01-29"), "period_of_report"] == pd.Timestamp("2023-12-31")
    # IBM is known by date only: from the next trading day after 2024-02-26.
    ibm = joined[joined["symbol"] == "IBM"].set_index("date")
    assert ibm["filing_id"].first_valid_index() == pd.Timestamp("2024-02-27")
