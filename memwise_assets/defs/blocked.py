"""Heavy steps by symbol blocks: the plan from the admitted budget, and the block passes.

Each pass reads one block of whole symbols from the stored input (`StoredTable`), calls the
pandas compute function on it, and hands the result on to be stored; nothing of a block
outlives it. Every symbol-wise answer (windows, holes, barrier paths, attachments) is the
same as the whole-history computation's, because a block boundary only ever falls between
two symbols and every global input (the session calendar, the data's last day) is taken
from the whole table, not from the block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.compute.weekly.features import attach_weekly_features, weekly_features
from memwise_assets.defs.figures import block_metadata
from memwise_assets.defs.step import StepMemory
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import MB, BlockPlan, plan_blocks

# Static cost of one input row in a block (bytes): the block as read, its (symbol, date)
# sorted copy, the compute pass's working arrays, the output block and the one in flight to
# the writer. Measured through `dagster asset materialize` at 1,000 tickers x 30 years
# (sample source): weekly 366, attach 456, labels 155 (one mode) bytes per row of the
# largest block's RSS increase; each rounded up. Labels add `LABEL_BYTES_PER_MODE` per mode.
# The daily merge's full build copies each block's history out of the block before letting
# it go (history and tail files, `refresh_blocks`): 835-879 MB at 520 B per row, so 600.
BYTES_PER_ROW = {"weekly": 400.0, "weekly_attach": 600.0, "labels": 120.0}
LABEL_BYTES_PER_MODE = 100.0
# Daily rows joined to a small table read whole (`defs/block_joins.py`): company statements,
# filing features and SEC facts carried onto daily rows. Measured the same way (per row of
# the largest block, the small side held whole included): fundamentals 477, SEC 902 B (three
# columns per line item); each rounded up. The filing cost is an estimate, not yet measured.
BYTES_PER_ROW.update({"fundamentals_attach": 520.0, "filing_attach": 700.0, "sec_attach": 1000.0})
# A block step's fixed cost beside its block: the symbol counts, the session calendar.
BLOCK_BASE_MB = 64.0


def row_cost(cost: str, modes: int = 0) -> float:
    """Bytes per input row of a block step (`modes`: labelling modes, labels only)."""
    return BYTES_PER_ROW[cost] + LABEL_BYTES_PER_MODE * modes


def plan_for(step: StepMemory, stored: StoredTable, cost: str, modes: int = 0) -> BlockPlan:
    """The step's block plan: whole symbols, as many as its admitted budget holds."""
    return plan_blocks(
        stored.symbol_rows.to_numpy(),
        budget_mb=step.limit_mb,
        bytes_per_row=row_cost(cost, modes),
        basis=f"static cost of {cost}",
    )


def block_estimate_mb(stored: StoredTable, cost: str, limit_mb: float, modes: int = 0) -> float:
    """The admission estimate of a block step: its largest block's working set, not its input.

    Planned at the budget's limit before admission (the step plans again at the limit it was
    admitted with, the same unless a retry raised it).
    """
    per_row = row_cost(cost, modes)
    plan = plan_blocks(stored.symbol_rows.to_numpy(), budget_mb=limit_mb, bytes_per_row=per_row)
    return min(limit_mb, BLOCK_BASE_MB + plan.largest_rows * per_row / MB)


def plan_metadata(plan: BlockPlan) -> dict[str, Any]:
    """The plan as the step's metadata (`memwise/blocks`, `block_rows`, `block_plan`)."""
    return block_metadata(plan.blocks, plan.largest_rows, plan.reason)


def sessions_of(stored: StoredTable) -> pd.DatetimeIndex:
    """NYSE sessions over the whole stored table's dates (from the footers' statistics)."""
    span = stored.date_range()
    return nyse_sessions(pd.Series(span) if span else pd.Series([], dtype="datetime64[ns]"))


def weekly_blocks(
    stored: StoredTable,
    plan: BlockPlan,
    price_field: str,
    sessions: pd.DatetimeIndex,
    on_block: Callable[[int, pd.DataFrame, pd.DataFrame], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Weekly features of each block (symbol, week_end order)."""
    # A week is judged finished on its own symbol's rows and the exchange's sessions, never
    # on other symbols: a block gives the weeks of its symbols exactly as the whole table does.
    for i, daily in enumerate(stored.blocks(plan.bounds)):
        features = weekly_features(daily, price_field=price_field, sessions=sessions)
        if on_block is not None:
            on_block(i, daily, features)
        del daily
        yield features
        del features  # before the next block is read: one block's output held at a time


def attach_block(
    daily: pd.DataFrame,
    weekly: pd.DataFrame,
    available: str,
    sessions: pd.DatetimeIndex,
    max_age_days: int | None,
) -> pd.DataFrame:
    """One block's daily rows with the latest finished week each may know (by `week_end`)."""
    return attach_weekly_features(
        daily,
        weekly,
        available=available,
        sessions=sessions,
        max_age_days=max_age_days,
        week_end_column="week_end",
    )


def attach_blocks(
    daily_bars: StoredTable,
    features: StoredTable,
    plan: BlockPlan,
    available: str,
    sessions: pd.DatetimeIndex,
    on_block: Callable[[int, pd.DataFrame], None] | None = None,
    max_age_days: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Daily rows of each block with their weekly features (symbol, date order)."""
    symbols = daily_bars.symbol_rows.index
    spans = [(lo, hi) for lo, hi in plan.bounds if hi > lo]
    for i, ((lo, hi), daily) in enumerate(zip(spans, daily_bars.blocks(spans), strict=True)):
        weekly = features.read(symbols[lo], symbols[hi - 1])
        attached = attach_block(daily, weekly, available, sessions, max_age_days)
        del daily, weekly
        if on_block is not None:
            on_block(i, attached)
        yield attached
        del attached  # before the next block is read: one block's output held at a time


def label_blocks(
    stored: StoredTable,
    plan: BlockPlan,
    label: Callable[[pd.DataFrame], pd.DataFrame],
    on_block: Callable[[int, pd.DataFrame], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """`label(block)` of each block (symbol, date order)."""
    for i, bars in enumerate(stored.blocks(plan.bounds)):
        labelled = label(bars)
        del bars
        if on_block is not None:
            on_block(i, labelled)
        yield labelled
        del labelled  # before the next block is read: one block's output held at a time


def longest_series(stored: StoredTable) -> int:
    """Rows of the longest symbol (the labels' horizon check) from the symbol counts."""
    counts = stored.symbol_rows
    return int(np.max(counts.to_numpy())) if len(counts) else 0
