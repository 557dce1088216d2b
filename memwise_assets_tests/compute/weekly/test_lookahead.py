"""No look-ahead: bars after a cut date never change the features attached up to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memwise_assets.compute.weekly.features import (
    FEATURE_COLUMNS,
    attach_weekly_features,
    weekly_features,
)
from memwise_assets_tests.builders.bars import ragged_daily

_PRICES = ["open", "high", "low", "close"]


def attached(daily: pd.DataFrame) -> pd.DataFrame:
    return attach_weekly_features(daily, weekly_features(daily))


def perturb_after(daily: pd.DataFrame, cut: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Every bar after `cut` gets new prices and volume; some are dropped, one is added."""
    rng = np.random.default_rng(seed)
    after = (daily["date"] > cut).to_numpy()
    changed = daily.copy()
    scale = np.exp(rng.normal(0.0, 0.2, after.sum()))
    for column in _PRICES:
        changed.loc[after, column] = changed.loc[after, column].to_numpy() * scale
    changed.loc[after, "high"] *= 1.05
    changed.loc[after, "volume"] = rng.lognormal(12, 1, after.sum()).round()
    dropped = after & (rng.random(len(daily)) < 0.2)
    changed = changed[~dropped]
    # A bar on the Saturday right after the cut joins the cut's week when the cut is a
    # Friday, the very week a Friday row must already be final for.
    extra = changed[changed["date"] <= cut].tail(1).copy()
    if len(extra):
        extra["date"] = cut + pd.Timedelta(days=1)
        extra["symbol"] = "SYM00"
        extra.index = [-1]
        changed = pd.concat([changed, extra]).drop_duplicates(["symbol", "date"], keep="first")
    return changed


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(seed=st.integers(0, 10_000), cut_at=st.floats(0.05, 0.95))
def test_rows_up_to_the_cut_do_not_see_later_bars(seed: int, cut_at: float) -> None:
    daily = ragged_daily(seed=seed, n_symbols=6, n_days=420)
    dates = np.sort(daily["date"].unique())
    cut = pd.Timestamp(dates[int(cut_at * (len(dates) - 1))])
    before = attached(daily)
    after = attached(perturb_after(daily, cut, seed))
    up_to_cut = daily.index[daily["date"] <= cut]
    pd.testing.assert_frame_equal(
        before.loc[up_to_cut, list(FEATURE_COLUMNS)], after.loc[up_to_cut, list(FEATURE_COLUMNS)]
    )
    # The perturbation is real: some later row must differ, or the test proves nothing.
    later = daily.index[daily["date"] > cut].intersection(after.index)
    if len(later) > 50:
        b = before.loc[later, "ret_1w"].to_numpy()
        a = after.loc[later, "ret_1w"].to_numpy()
        assert not np.array_equal(a, b, equal_nan=True)


def test_friday_cut_keeps_the_week_that_closed_on_it() -> None:
    daily = ragged_daily(seed=99, n_symbols=4, n_days=300)
    fridays = np.sort(daily.loc[daily["date"].dt.dayofweek == 4, "date"].unique())
    cut = pd.Timestamp(fridays[len(fridays) // 2])
    before = attached(daily)
    truncated = attached(daily[daily["date"] <= cut])
    rows = truncated.index
    pd.testing.assert_frame_equal(
        before.loc[rows, list(FEATURE_COLUMNS)], truncated[list(FEATURE_COLUMNS)]
    )
    on_friday = truncated[truncated["date"] == cut]
    assert on_friday["ret_1w"].notna().any()


def test_week_end_column_names_the_week_each_row_carries() -> None:
    """The audit column: every row's week_end is its latest available Friday (NaT before)."""
    daily = ragged_daily(7)
    features = weekly_features(daily)
    for available, strict in (("same_close", False), ("next_session", True)):
        out = attach_weekly_features(
            daily, features, ["ret_1w"], available=available, week_end_column="week_end"
        )
        carried = out["week_end"]
        known = carried.notna()
        assert known.any() and not known.all()  # the first days of a series carry none
        gap = out.loc[known, "date"] - carried[known]
        assert (gap > pd.Timedelta(0)).all() if strict else (gap >= pd.Timedelta(0)).all()
        assert (carried[known].dt.dayofweek == 4).all()  # W-FRI labels
        # The features carried are those of the named week.
        keyed = features.set_index(["symbol", "week_end"])["ret_1w"]
        rows = out[known]
        expected = keyed.reindex(pd.MultiIndex.from_arrays([rows["symbol"], rows["week_end"]]))
        np.testing.assert_array_equal(expected.to_numpy(), rows["ret_1w"].to_numpy())
