"""Label conventions: no path across a hole, total-return prices, non-events told apart from
flat labels, and horizons no series can reach refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    refuse_long_horizons,
    triple_barrier_labels,
)
from memwise_assets.compute.prices import trading_days
from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets_tests.builders.bars import bars_on

CONFIG = LabelingConfig(modes=(LabelMode("base", 1.0, 1.0, 10),), vol_span=20, vol_min_periods=5)
OUTPUTS = ["label_base", "weight_base", "uniq_base", "exit_base", "is_event_base"]


@pytest.fixture(scope="module")
def holey() -> pd.DataFrame:
    """A with bars for 2022-06-01..08-31 and for 2024 H1; B with every session of both."""
    a = trading_days("2022-06-01", "2022-09-01").append(trading_days("2024-01-01", "2024-07-01"))
    b = trading_days("2022-06-01", "2024-07-01")
    return pd.concat([bars_on("A", a, 1), bars_on("B", b, 2)], ignore_index=True)


def test_no_label_path_or_vol_crosses_a_hole(holey: pd.DataFrame) -> None:
    got = triple_barrier_labels(holey, CONFIG, sessions=nyse_sessions(holey["date"]))
    a = holey["symbol"] == "A"
    for side in (holey["date"] < "2023-01-01", holey["date"] >= "2023-01-01"):
        part = holey[a & side]
        alone = triple_barrier_labels(part, CONFIG)
        # Each side labelled on its own, as if the other did not exist (weights too, since
        # they are rescaled per segment).
        pd.testing.assert_frame_equal(got.loc[part.index, OUTPUTS], alone[OUTPUTS])
    # Without sessions the last bars of 2022 reach into 2024.
    joined = triple_barrier_labels(holey, CONFIG)
    last_2022 = holey.index[a & (holey["date"] == "2022-08-31")]
    assert not got.loc[last_2022, "is_event_base"].any()
    assert joined.loc[holey.index[a & (holey["date"] == "2022-08-30")], "exit_base"].iloc[0] > 0
    b = holey["symbol"] == "B"
    pd.testing.assert_frame_equal(got.loc[b, OUTPUTS], joined.loc[b, OUTPUTS])


def test_adj_close_labels_equal_labels_of_the_adjusted_series(holey: pd.DataFrame) -> None:
    adjusted = LabelingConfig(**{**CONFIG.__dict__, "price_field": "adj_close"})
    ours = triple_barrier_labels(holey, adjusted)
    theirs = triple_barrier_labels(holey.assign(close=holey["adj_close"]), CONFIG)
    pd.testing.assert_frame_equal(ours[OUTPUTS], theirs[OUTPUTS])
    assert not ours["label_base"].equals(triple_barrier_labels(holey, CONFIG)["label_base"])
    with pytest.raises(ValueError, match="price_field"):
        LabelingConfig(price_field="open")
    with pytest.raises(ValueError, match="adj_close"):
        triple_barrier_labels(holey.drop(columns="adj_close"), adjusted)


def test_non_events_are_told_apart_from_flat_labels(holey: pd.DataFrame) -> None:
    got = triple_barrier_labels(holey, CONFIG)
    events = got["is_event_base"]
    assert got["is_event_base"].dtype == bool
    # Warm-up rows (no vol yet) and each series' last bar are no events ...
    assert (~events).sum() >= 2 * CONFIG.vol_min_periods
    assert (got.loc[~events, ["label_base", "weight_base", "exit_base"]] == 0).all(axis=None)
    # ... while flat labels (vertical barrier, label 0) are events with a weight.
    flat = events & (got["label_base"] == 0)
    assert flat.sum() > 0 and (got.loc[flat, "weight_base"] > 0).all()
    sums = got[events].groupby("symbol")["weight_base"].sum()
    counts = events.groupby(got["symbol"]).sum()
    np.testing.assert_allclose(sums.to_numpy(), counts.to_numpy(), rtol=1e-4)


def test_a_horizon_no_series_reaches_is_refused_naming_the_field(holey: pd.DataFrame) -> None:
    longest = int(holey["symbol"].value_counts().max())
    absurd = LabelingConfig(modes=(LabelMode("wide", 1.0, 1.0, longest + 1),))
    with pytest.raises(ValueError, match=r"modes\[wide\]\.horizon: expected at most"):
        refuse_long_horizons(holey, absurd)
    refuse_long_horizons(holey, LabelingConfig(modes=(LabelMode("ok", 1.0, 1.0, longest),)))
    with pytest.raises(ValueError, match=r"modes\[m\]\.horizon"):
        LabelingConfig(modes=(LabelMode("m", 1.0, 1.0, 10**9),))
    # Past the longest series the labels no longer change: the work is bounded by the series.
    reach = LabelingConfig(modes=(LabelMode("base", 1.0, 1.0, longest),))
    beyond = LabelingConfig(modes=(LabelMode("base", 1.0, 1.0, 90_000),))
    pd.testing.assert_frame_equal(
        triple_barrier_labels(holey, reach)[OUTPUTS[:-2]],
        triple_barrier_labels(holey, beyond)[OUTPUTS[:-2]],
    )
