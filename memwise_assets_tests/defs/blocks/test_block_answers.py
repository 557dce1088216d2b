"""Block passes give the whole-history answers: 200+ symbols x 30 years, any block size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.labels.triple_barrier import LabelingConfig, triple_barrier_labels
from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.compute.weekly.features import attach_weekly_features, weekly_features
from memwise_assets.defs.atomic_files import write_parquet
from memwise_assets.defs.blocked import (
    attach_blocks,
    label_blocks,
    sessions_of,
    weekly_blocks,
)
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import plan_blocks
from memwise_assets_tests.builders.history import KEY, TICKERS, pa_table, same_rows

LABELING = LabelingConfig(price_field="adj_close", chunk_rows=50_000)


@pytest.fixture(scope="module")
def expected(whole) -> dict[str, pd.DataFrame]:
    """The whole-history answers: each compute function on the whole table at once."""
    bars, files = whole
    sessions = nyse_sessions(bars["date"])
    features = weekly_features(bars, price_field="adj_close", sessions=sessions)
    daily = StoredTable("daily_bars", files, DAILY).read_all()
    labels = StoredTable("daily_bars", files, LABEL_INPUT).read_all()
    return {
        "weekly": features,
        "attached": attach_weekly_features(
            daily, features, sessions=sessions, week_end_column="week_end"
        ),
        "labels": triple_barrier_labels(labels, LABELING, sessions=sessions),
    }


DAILY = ["symbol", "date", "open", "high", "low", "close", "volume"]
LABEL_INPUT = ["symbol", "date", "close", "adj_close"]


@pytest.mark.parametrize("max_rows", [1, 20_000, None])
def test_blocks_give_the_whole_history_answers(whole, expected, tmp_path: Path, max_rows) -> None:
    bars, files = whole
    stored = StoredTable("daily_bars", files)
    assert stored.rows == len(bars) and len(stored.symbol_rows) == len(TICKERS)
    plan = plan_blocks(
        stored.symbol_rows.to_numpy(), budget_mb=2048, bytes_per_row=320, max_rows=max_rows
    )
    if max_rows == 1:
        assert plan.blocks == len(TICKERS)  # one symbol per block
    sessions = nyse_sessions(bars["date"])
    assert sessions.equals(sessions_of(stored))

    features = list(weekly_blocks(stored, plan, "adj_close", sessions))
    same_rows(pd.concat(features, ignore_index=True), expected["weekly"], ["symbol", "week_end"])

    folder = tmp_path / "weekly"
    folder.mkdir()
    for i, block in enumerate(features):
        write_parquet(pa_table(block), folder / f"part-{i:05d}.parquet")
    stored_features = StoredTable("weekly_features", sorted(folder.glob("*.parquet")))
    daily = StoredTable("daily_bars", files, DAILY)
    attached = attach_blocks(daily, stored_features, plan, "same_close", sessions)
    same_rows(pd.concat(list(attached), ignore_index=True), expected["attached"], KEY)

    label_input = StoredTable("daily_bars", files, LABEL_INPUT)

    def label(block: pd.DataFrame) -> pd.DataFrame:
        return triple_barrier_labels(block, LABELING, sessions=sessions)

    labelled = pd.concat(list(label_blocks(label_input, plan, label)), ignore_index=True)
    same_rows(labelled, expected["labels"], KEY)


def test_a_symbol_block_reads_only_the_row_groups_it_overlaps(whole) -> None:
    from memwise_assets.defs.stored_table import _groups_overlapping, _symbol_spans

    _, files = whole
    stored = StoredTable("daily_bars", files)
    meta = stored._footers[-1]
    groups = _groups_overlapping(_symbol_spans(meta), "T0100", "T0100")
    assert 0 < len(groups) < meta.num_row_groups
    one = stored.read("T0100", "T0100")
    assert set(one["symbol"].astype(str)) == {"T0100"}
    assert one["date"].is_monotonic_increasing
