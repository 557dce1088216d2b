"""`intraday_bars` and `intraday_labels` through Dagster on the shipped samples: stored values."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from memwise_assets.compute.labels.triple_barrier import triple_barrier_labels
from memwise_assets.compute.prices.intraday import read_intraday_bars
from memwise_assets.defs.intraday.assets import intraday_bars, sample_intraday_dir
from memwise_assets.defs.labels.checks import VALID_LABELS
from memwise_assets.defs.labels.intraday import IntradayLabelsConfig, intraday_labels

MODES = [{"name": "base", "horizon": 30}]


def test_stored_intraday_bars_and_labels(memwise_resources) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [intraday_bars, intraday_labels],
        instance=instance,
        resources=memwise_resources,
        run_config={"ops": {"intraday_labels": {"config": {"modes": MODES}}}},
    )
    root = memwise_resources["io_manager"].root
    bars = pd.read_parquet(root / "intraday_bars.parquet")
    expected_bars = read_intraday_bars(sample_intraday_dir(), pattern="*.csv*")
    pd.testing.assert_frame_equal(bars, expected_bars, check_categorical=False)
    assert bars["symbol"].value_counts().to_dict() == {"DBB": 4000, "ES": 4000}

    labels = pd.read_parquet(root / "intraday_labels.parquet")
    labeling = IntradayLabelsConfig(modes=MODES).to_labeling()
    assert labeling.price_field == "close"  # intraday bars carry no adj_close
    expected = triple_barrier_labels(expected_bars, labeling)
    pd.testing.assert_frame_equal(labels, expected, check_categorical=False)
    meta = result.asset_materializations_for_node("intraday_labels")[0].metadata
    events = labels.loc[labels["is_event_base"], "label_base"]
    assert meta["memwise/events_base"].value == len(events) > 0
    assert meta["dagster/row_count"].value == len(labels) == 8000
    [check] = result.get_asset_check_evaluations()
    assert (check.asset_key, check.check_name, check.passed) == (
        intraday_labels.key,
        VALID_LABELS,
        True,
    )
