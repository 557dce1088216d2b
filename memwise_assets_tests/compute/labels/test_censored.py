"""Near a segment's end: a row with fewer than `horizon` bars left is an event only if a
barrier is touched in them; otherwise it is censored (a non-event), never a flat label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    triple_barrier_labels,
)
from memwise_assets.compute.prices import trading_days

HORIZON = 10
CONFIG = LabelingConfig(
    modes=(LabelMode("base", 1.0, 1.0, HORIZON),), vol_span=20, vol_min_periods=5
)


def test_censored_rows_are_non_events_and_touched_ones_are_events() -> None:
    days = trading_days("2023-01-01", "2024-01-01")
    rng = np.random.default_rng(7)
    frames = []
    for k, symbol in enumerate(("A", "B", "C", "D")):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01 + 0.005 * k, len(days))))
        frames.append(pd.DataFrame({"symbol": symbol, "date": days, "close": close}))
    bars = pd.concat(frames, ignore_index=True)
    bars["adj_close"] = bars["close"]
    got = triple_barrier_labels(bars, CONFIG)
    left = got.groupby("symbol").cumcount(ascending=False)  # bars after the row
    near_end = (left < HORIZON) & (left > 0)
    events = got["is_event_base"]
    # Near the end an event is a barrier touched within the bars left: label +-1, never 0.
    touched = near_end & events
    assert touched.any() and (got.loc[touched, "label_base"] != 0).all()
    assert (got.loc[touched, "exit_base"] <= left[touched]).all()
    # ... and a row whose path ran out untouched is censored: no event, no weight.
    censored = near_end & ~events
    assert censored.any()
    assert (got.loc[censored, ["label_base", "weight_base", "exit_base"]] == 0).all(axis=None)
    # Flat labels (label 0) are events that reached the full horizon, never near the end.
    flat = events & (got["label_base"] == 0)
    assert flat.any() and (left[flat] >= HORIZON).all()
    assert (got.loc[flat, "exit_base"] == HORIZON).all()
