"""`weighted_labels` through Dagster: stored labels and metadata per mode, checks, bad config."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.compute.labels.triple_barrier import triple_barrier_labels
from memwise_assets.compute.prices import trading_days
from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.defs.labels.assets import LabelsConfig, weighted_labels
from memwise_assets.defs.labels.checks import VALID_LABELS
from memwise_assets.defs.prices.assets import daily_bars

RANGE = {
    "dagster/asset_partition_range_start": "2023-01",
    "dagster/asset_partition_range_end": "2023-04",
}
TICKERS = {"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT"]}}}}
MODES = [{"name": "base"}, {"name": "wide", "pt": 2.0, "sl": 2.0, "horizon": 5}]
LABELS = {"ops": {"weighted_labels": {"config": {"modes": MODES, "chunk_rows": 50}}}}


@pytest.fixture
def instance(tmp_path: Path):
    """A persistent instance in its own DAGSTER_HOME, so the run's records can be read back."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def _label(instance: dg.DagsterInstance, resources: dict, run_config: dict, **kw):
    return dg.materialize(
        [daily_bars, weighted_labels],
        selection=["weighted_labels"],
        instance=instance,
        resources=resources,
        run_config=run_config,
        **kw,
    )


def _stored_bars(folder: Path) -> pd.DataFrame:
    """The daily_bars partitions as stored, with the columns weighted_labels reads."""
    parts = [pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))]
    frame = pd.concat(parts, ignore_index=True)[["symbol", "date", "close", "adj_close"]]
    return frame.astype({"symbol": "category"})


def test_stored_labels_and_metadata_per_mode(instance, memwise_resources) -> None:
    prices = dg.materialize(
        [daily_bars], instance=instance, resources=memwise_resources, run_config=TICKERS, tags=RANGE
    )
    assert [m.partition for m in prices.asset_materializations_for_node("daily_bars")] == [
        "2023-01",
        "2023-02",
        "2023-03",
        "2023-04",
    ]
    result = _label(instance, memwise_resources, LABELS)

    [record] = instance.fetch_materializations(weighted_labels.key, limit=10).records
    meta = {k: getattr(v, "value", v) for k, v in record.asset_materialization.metadata.items()}
    stored = pd.read_parquet(meta["memwise/path"])
    root = memwise_resources["io_manager"].root
    assert meta["memwise/path"] == str(root / "weighted_labels")
    assert meta["memwise/blocks"] == 1 and meta["memwise/block_rows"] == len(stored)
    # Exactly what the compute function makes of the stored partitions, four months of two.
    bars = _stored_bars(root / "daily_bars")
    labeling = LabelsConfig(modes=MODES, chunk_rows=50).to_labeling()
    expected = triple_barrier_labels(bars, labeling, sessions=nyse_sessions(bars["date"]))
    key = ["symbol", "date"]
    pd.testing.assert_frame_equal(
        stored.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_categorical=False,
    )
    sessions = trading_days("2023-01-01", "2023-04-30")
    assert meta["dagster/row_count"] == len(stored) == 2 * len(sessions) == 2 * 81
    assert set(stored["date"].dt.strftime("%Y-%m")) == {"2023-01", "2023-02", "2023-03", "2023-04"}
    for mode in ("base", "wide"):
        assert stored[f"label_{mode}"].dtype == "int8"
        assert stored[f"weight_{mode}"].dtype == "float32"
        events = stored.loc[stored[f"is_event_{mode}"], f"label_{mode}"]
        assert meta[f"memwise/events_{mode}"] == len(events) > 0
        assert meta[f"memwise/non_events_{mode}"] == len(stored) - len(events)
        up = round(float((events == 1).mean()), 4)
        assert meta[f"memwise/label_up_share_{mode}"] == up
    # A horizon of 5 bars ends paths sooner than one of 20: the modes really differ.
    assert (stored["exit_wide"] <= 5).all() and stored["exit_base"].max() > 5
    # The step's memory figures ride on the same materialization, under the labels budget.
    assert meta["memwise/step"] == "weighted_labels"
    assert meta["memwise/peak_rss_mb"] > 0

    [check] = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (VALID_LABELS, True)


def test_a_horizon_past_the_series_fails_before_admission_and_keeps_the_stored_labels(
    instance, memwise_resources
) -> None:
    dg.materialize(
        [daily_bars], instance=instance, resources=memwise_resources, run_config=TICKERS, tags=RANGE
    )
    _label(instance, memwise_resources, LABELS)
    path = memwise_resources["io_manager"].root / "weighted_labels" / "part-00000.parquet"
    before = path.read_bytes()
    too_long = {
        "ops": {"weighted_labels": {"config": {"modes": [{"name": "base", "horizon": 500}]}}}
    }
    result = _label(instance, memwise_resources, too_long, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "modes[base].horizon: expected at most" in str(failure.event_specific_data.error)
    assert not result.asset_materializations_for_node("weighted_labels")
    assert path.read_bytes() == before
    label = f"{result.run_id[:8]}:weighted_labels"
    assert not [e for e in memwise_resources["memory"].ledger.history() if e["label"] == label]
