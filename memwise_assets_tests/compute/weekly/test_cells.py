"""Weekly cells numbered on the symbol x week grid or by rank give the same bars and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.compute.weekly import cells as weekly_cells
from memwise_assets.compute.weekly.features import weekly_bars, weekly_features
from memwise_assets_tests.builders.bars import ragged_daily


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    # Shuffled rows, late starts, early stops, NaN opens and highs, Saturdays and holes.
    return ragged_daily(seed=5, n_symbols=8, n_days=600)


def by_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    # No grid is small enough: cells are numbered by rank, as for sparse inputs.
    monkeypatch.setattr(weekly_cells, "_GRID_CELLS_PER_ROW", 0)


@pytest.mark.parametrize("price_field", ["close", "adj_close"])
def test_grid_and_ranked_cells_give_identical_bars_and_features(
    daily: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, price_field: str
) -> None:
    sessions = nyse_sessions(daily["date"])
    grid_bars = weekly_bars(daily, price_field=price_field, sessions=sessions)
    grid_features = weekly_features(daily, price_field=price_field, sessions=sessions)
    by_rank(monkeypatch)
    ranked_bars = weekly_bars(daily, price_field=price_field, sessions=sessions)
    ranked_features = weekly_features(daily, price_field=price_field, sessions=sessions)
    pd.testing.assert_frame_equal(grid_bars, ranked_bars)
    pd.testing.assert_frame_equal(grid_features, ranked_features)
    assert daily["open"].isna().any()  # so the first valid open is looked for
    assert grid_features["ret_4w"].notna().any()  # holes split it into short segments


def test_ranked_cells_name_duplicates_too(
    daily: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_rank(monkeypatch)
    doubled = pd.concat([daily, daily.iloc[[3]]])
    with pytest.raises(ValueError, match=r"1 duplicate rows, e\.g\. \('SYM"):
        weekly_bars(doubled)


def test_dropping_the_rows_before_a_mid_week_hole_may_renumber_the_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SYM00 misses a Tuesday and Wednesday: its Monday shares a week with the Thursday after
    # the hole and drops out. With the grid threshold set right at the input's density, the
    # fewer rows kept are numbered by rank instead, which skips the ten weeks before SYM01
    # lists; the bars must not change with it.
    sessions = pd.bdate_range("2021-01-04", periods=260)
    hole = sessions[[101, 102]]
    frames = []
    for i, dates in enumerate([sessions.difference(hole), sessions[50:]]):
        close = 50.0 + np.arange(len(dates)) * (0.1 + i) + np.sin(np.arange(len(dates)))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"SYM{i:02d}",
                    "date": dates,
                    "open": close,
                    "high": close + 1,
                    "low": close - 1,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000.0,
                }
            )
        )
    daily = pd.concat(frames, ignore_index=True)
    n_weeks = len(np.unique(sessions.to_period("W-FRI")))
    monkeypatch.setattr(weekly_cells, "_GRID_CELLS_PER_ROW", 10**6)
    grid = weekly_features(daily, sessions=sessions)
    monkeypatch.setattr(weekly_cells, "_GRID_CELLS_PER_ROW", 0)
    ranked = weekly_features(daily, sessions=sessions)
    monkeypatch.setattr(weekly_cells, "_GRID_CELLS_PER_ROW", 2 * n_weeks / len(daily))
    flipped = weekly_features(daily, sessions=sessions)
    pd.testing.assert_frame_equal(grid, ranked)
    pd.testing.assert_frame_equal(grid, flipped)
    week_of_hole = grid[(grid["symbol"] == "SYM00") & (grid["week_end"] == "2021-05-28")]
    assert week_of_hole["ret_1w"].isna().all()  # the week after the hole starts a new segment
