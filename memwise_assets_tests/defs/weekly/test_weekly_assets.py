"""The weekly and labels assets on daily bars with a hole: stored values, metadata, config."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.prices import trading_days
from memwise_assets.defs.labels.assets import weighted_labels
from memwise_assets.defs.weekly.assets import daily_with_weekly_features, weekly_features
from memwise_assets_tests.builders.bars import bars_on
from memwise_assets_tests.builders.stored_assets import stored_asset

AAPL_DAYS = trading_days("2022-06-01", "2022-06-11").append(
    trading_days("2024-01-01", "2024-07-01")
)


@stored_asset("daily_bars")
def holey_daily_bars() -> pd.DataFrame:
    """AAPL with bars for 2022-06-01..06-10 and for 2024 H1: a hole of a year and a half."""
    frame = pd.concat(
        [
            bars_on("AAPL", AAPL_DAYS, 1),
            bars_on("MSFT", trading_days("2023-06-01", "2024-07-01"), 2),
        ],
        ignore_index=True,
    )
    return frame.astype({"symbol": "category"})


def _stored(resources: dict, asset: str) -> pd.DataFrame:
    """An asset as stored by blocks (the current version's files)."""
    return pd.read_parquet(resources["io_manager"].root / asset)


def _materialize(resources: dict, **run_config: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [holey_daily_bars, weekly_features, daily_with_weekly_features, weighted_labels],
        resources=resources,
        run_config={"ops": run_config} if run_config else None,
    )


def test_stored_features_and_labels_never_span_the_hole(memwise_resources) -> None:
    result = _materialize(memwise_resources)
    assert result.success
    features = _stored(memwise_resources, "weekly_features")
    aapl = features[features["symbol"] == "AAPL"].set_index("week_end")
    assert np.isnan(aapl.loc["2024-01-05", "ret_1w"])
    assert np.isfinite(aapl.loc["2024-01-12", "ret_1w"])  # a real one-week return follows
    meta = result.asset_materializations_for_node("weekly_features")[0].metadata
    assert meta["memwise/holes"].value == 1
    assert "AAPL" in meta["memwise/holes_preview"].value
    assert meta["memwise/price_field"].value == "adj_close"
    # 2024-06-28 is a Friday: the last week is complete and kept.
    assert meta["memwise/last_week_end"].value == "2024-06-28"
    attached = _stored(memwise_resources, "daily_with_weekly_features")
    early = attached[
        (attached["symbol"] == "AAPL") & attached["date"].between("2024-01-01", "2024-01-04")
    ]
    assert len(early) == 3 and early["ret_4w"].isna().all()
    labels = _stored(memwise_resources, "weighted_labels")
    last_2022 = labels[(labels["symbol"] == "AAPL") & (labels["date"] == "2022-06-10")]
    assert not last_2022["is_event_base"].any()  # its path would have run into 2024
    meta = result.asset_materializations_for_node("weighted_labels")[0].metadata
    assert meta["memwise/non_events_base"].value == int((~labels["is_event_base"]).sum()) > 0


def test_next_session_and_close_are_selectable(memwise_resources) -> None:
    result = _materialize(
        memwise_resources,
        weekly_features={"config": {"price_field": "close"}},
        daily_with_weekly_features={"config": {"available": "next_session"}},
    )
    attached = _stored(memwise_resources, "daily_with_weekly_features")
    fridays = attached[attached["date"] == "2024-01-12"]
    previous = attached[attached["date"] == "2024-01-11"]
    np.testing.assert_array_equal(fridays["range_1w"].to_numpy(), previous["range_1w"].to_numpy())
    meta = result.asset_materializations_for_node("weekly_features")[0].metadata
    assert meta["memwise/price_field"].value == "close"


def test_a_week_older_than_max_age_days_is_not_carried(memwise_resources) -> None:
    _materialize(memwise_resources, daily_with_weekly_features={"config": {"max_age_days": 3}})
    attached = _stored(memwise_resources, "daily_with_weekly_features")
    carried = attached.dropna(subset=["week_end"])
    age = (carried["date"] - carried["week_end"]).dt.days
    assert len(carried) and age.max() <= 3
    # Thursday 2024-01-11 would carry the week of Friday 2024-01-05 (6 days): not any more.
    thursday = attached[(attached["symbol"] == "MSFT") & (attached["date"] == "2024-01-11")]
    assert thursday["week_end"].isna().all() and thursday["ret_1w"].isna().all()
