"""Blocks read through the split pass equal blocks read from the Parquet files, any block size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.defs.atomic_files import write_parquet
from memwise_assets.defs.block_split import symbol_time_order
from memwise_assets.defs.blocked import weekly_blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import plan_blocks

TICKERS = [f"T{i:03d}" for i in range(40)]
DAILY = ["symbol", "date", "open", "high", "low", "close", "volume"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Month files with late listings, delistings and holes: each month's own dictionary."""
    source = SamplePriceSource(seed=3, listing_rate=0.4, delisting_rate=0.4)
    bars = source.fetch(TICKERS, pd.Timestamp("2019-01-01"), pd.Timestamp("2021-01-01")).frame
    rng = np.random.default_rng(1)
    bars = bars[rng.random(len(bars)) > 0.02].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("months")
    paths = []
    for month, rows in bars.groupby(bars["date"].dt.to_period("M"), sort=True).indices.items():
        part = bars.iloc[rows].sort_values(["symbol", "date"])
        part["symbol"] = part["symbol"].astype(str).astype("category")
        path = folder / f"{month}.parquet"
        write_parquet(pa.Table.from_pandas(part, preserve_index=False), path, row_group_rows=97)
        paths.append(path)
    return paths


@pytest.mark.parametrize("max_rows", [1, 700, 5_000, None])
@pytest.mark.parametrize("columns", [DAILY, None])
def test_split_blocks_equal_direct_reads(files, tmp_path: Path, max_rows, columns) -> None:
    direct = StoredTable("daily_bars", files, columns)
    split = StoredTable("daily_bars", files, columns)
    split.spill_into(tmp_path)
    plan = plan_blocks(
        direct.symbol_rows.to_numpy(), budget_mb=2048, bytes_per_row=400, max_rows=max_rows
    )
    if max_rows == 1:
        assert plan.blocks == len(direct.symbol_rows)  # one symbol per block
    pairs = list(zip(direct.blocks(plan.bounds), split.blocks(plan.bounds), strict=True))
    assert len(pairs) == plan.blocks
    for want, got in pairs:
        # A direct read unifies the months' dictionaries in order of appearance; the split
        # gives the block's symbols sorted (one block is read directly). The same rows.
        if plan.blocks > 1:
            assert got["symbol"].cat.categories.is_monotonic_increasing
        assert set(got["symbol"].cat.categories) == set(want["symbol"].cat.categories)
        pd.testing.assert_frame_equal(_plain(got), _plain(want), check_exact=True)
    assert not any(tmp_path.iterdir())  # the block files are gone once read


def test_unordered_blocks_hold_the_same_rows_each_symbol_by_date(files, tmp_path: Path) -> None:
    direct = StoredTable("daily_bars", files, DAILY)
    split = StoredTable("daily_bars", files, DAILY)
    split.spill_into(tmp_path, ordered=False)
    plan = plan_blocks(
        direct.symbol_rows.to_numpy(), budget_mb=2048, bytes_per_row=400, max_rows=3_000
    )
    for want, got in zip(direct.blocks(plan.bounds), split.blocks(plan.bounds), strict=True):
        assert got.groupby("symbol", observed=True)["date"].is_monotonic_increasing.all()
        got = _plain(got).sort_values(["symbol", "date"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, _plain(want), check_exact=True)


@pytest.mark.parametrize("ordered", [True, False])
def test_weekly_features_are_the_same_through_the_split(files, tmp_path: Path, ordered) -> None:
    direct = StoredTable("daily_bars", files, DAILY)
    split = StoredTable("daily_bars", files, DAILY)
    split.spill_into(tmp_path, ordered=ordered)
    plan = plan_blocks(
        direct.symbol_rows.to_numpy(), budget_mb=2048, bytes_per_row=400, max_rows=3_000
    )
    assert plan.blocks > 2
    sessions = nyse_sessions(pd.Series(list(direct.date_range() or [])))
    keys = ["symbol", "week_end"]
    want = _plain(pd.concat(weekly_blocks(direct, plan, "close", sessions), ignore_index=True))
    got = _plain(pd.concat(weekly_blocks(split, plan, "close", sessions), ignore_index=True))
    assert got["symbol"].is_monotonic_increasing  # stored blocks must be sorted by symbol
    want = want.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(symbol=frame["symbol"].astype(str))


def test_a_block_left_unread_leaves_no_file(files, tmp_path: Path) -> None:
    split = StoredTable("daily_bars", files, DAILY)
    split.spill_into(tmp_path)
    plan = plan_blocks(
        split.symbol_rows.to_numpy(), budget_mb=2048, bytes_per_row=400, max_rows=2_000
    )
    blocks = split.blocks(plan.bounds)
    next(blocks)
    blocks.close()  # a step that fails after its first block
    assert not any(tmp_path.iterdir())


def test_the_order_is_a_lexsort_by_symbol_then_time() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 50, 5_000).astype(np.int32)
    times = rng.integers(0, 300, 5_000)
    order = symbol_time_order(codes, times, 50)
    assert order is not None
    np.testing.assert_array_equal(order, np.lexsort((times, codes)))
    month_major = np.lexsort((codes, times // 30))  # month by month, each by symbol
    got = symbol_time_order(codes[month_major], times[month_major], 50)
    assert got is not None
    np.testing.assert_array_equal(got, np.lexsort((times[month_major], codes[month_major])))
    in_order = np.lexsort((times, codes))
    assert symbol_time_order(codes[in_order], times[in_order], 50) is None
