"""Daily rows joined to a small table, by symbol blocks: the company, filing and SEC attaches.

`daily_bars` is read block by block (whole symbols, `defs/blocked.py`); the other side (company
statements, filing features, SEC facts) is small and read whole, so the plan sets its size
aside from the budget before it sizes the blocks, and the estimate counts it. Every join is a
per-symbol `merge_asof`, so a block gives its symbols' rows exactly as the whole table does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from memwise_assets.defs.blocked import BLOCK_BASE_MB, row_cost
from memwise_assets.defs.home_and_size import frame_mb
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.step import StepMemory
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import MB, BlockPlan, plan_blocks

# The small side held whole: its frame, the right-hand table built from it and the copy a
# block's filter takes. Three times its size in memory covers the three.
HELD_COPIES = 3.0


def held_mb(*frames: pd.DataFrame | None) -> float:
    """What the small side of a join holds for the whole step (MB): `HELD_COPIES` x its size."""
    size = sum(float(f.memory_usage(deep=True).sum()) for f in frames if f is not None)
    return HELD_COPIES * size / MB


def join_plan(
    stored: StoredTable, cost: str, limit_mb: float, held: float, basis: str = ""
) -> BlockPlan:
    """Blocks of whole symbols in what the budget leaves beside the small side held whole."""
    return plan_blocks(
        stored.symbol_rows.to_numpy(),
        budget_mb=max(limit_mb - held, 0.0),
        bytes_per_row=row_cost(cost),
        basis=basis or f"static cost of {cost}; {held:.0f} MB held whole set aside",
    )


def join_plan_for(step: StepMemory, stored: StoredTable, cost: str, held: float) -> BlockPlan:
    """The step's plan at the limit it was admitted with."""
    return join_plan(stored, cost, step.limit_mb, held)


def join_estimate_mb(stored: StoredTable, cost: str, limit_mb: float, held: float) -> float:
    """The admission estimate: the small side held whole plus the largest block's working set."""
    plan = join_plan(stored, cost, limit_mb, held)
    return min(limit_mb, BLOCK_BASE_MB + held + plan.largest_rows * row_cost(cost) / MB)


@contextmanager
def join_step(
    context: dg.AssetExecutionContext,
    memory: MemoryResource,
    daily_bars: StoredTable,
    cost: str,
    budget: str,
    *small: pd.DataFrame | None,
) -> Iterator[tuple[StepMemory, BlockPlan]]:
    """The step of a join by blocks: admitted with the small side held whole plus the largest
    block, its plan at the admitted limit, and `daily_bars` split once into its blocks."""
    held = held_mb(*small)
    input_mb = daily_bars.memory_mb + sum(frame_mb(f) for f in small if f is not None)
    estimate = join_estimate_mb(daily_bars, cost, memory.limit_for(budget), held)
    with memory.step(
        context, budget=budget, input_mb=input_mb, static_estimate_mb=estimate
    ) as step:
        plan = join_plan_for(step, daily_bars, cost, held)
        daily_bars.spill_into(step.cache_dir)  # each row group decoded once, not per block
        context.log.info(f"{context.asset_key.to_user_string()} by blocks: {plan.reason}")
        yield step, plan


def join_blocks(
    stored: StoredTable,
    plan: BlockPlan,
    join: Callable[[pd.DataFrame], pd.DataFrame],
    on_block: Callable[[int, pd.DataFrame, pd.DataFrame], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """`join(block)` of each block (symbol, date order); `on_block(i, daily, joined)` sees both."""
    for i, daily in enumerate(stored.blocks(plan.bounds)):
        joined = join(daily)
        if on_block is not None:
            on_block(i, daily, joined)
        del daily
        yield joined
        del joined  # before the next block is read: one block's output held at a time


def of_symbols(frame: pd.DataFrame, column: str, symbols: pd.Series) -> pd.DataFrame:
    """Rows of `frame` whose `column` names one of `symbols` (upper case, as the joins match)."""
    wanted = set(symbols.astype(str).str.upper().unique())
    return frame[frame[column].astype(str).str.upper().isin(wanted).to_numpy()]


def arrow_types(frame: pd.DataFrame, columns: Mapping[str, str]) -> pa.Schema:
    """Arrow types of output columns (keys) copied from `frame`'s columns (values).

    A block whose rows carry no match holds only nulls in such a column, and Arrow cannot tell
    a type from nulls alone: the writer gives those columns the type the whole table has.
    """
    fields = []
    for out, source in columns.items():
        if source in frame.columns and len(frame[source].dropna()):
            kind = pa.Array.from_pandas(frame[source].dropna().head(1000)).type
            fields.append(pa.field(out, kind))
    return pa.schema(fields)


class CheckTally:
    """One asset check's result over every block: passed if each block passed.

    Numeric metadata (row counts) are summed; text (a cut, a detail) is the first failing
    block's, else the first block's.
    """

    def __init__(self) -> None:
        self.results: list[dg.AssetCheckResult] = []

    def add(self, result: dg.AssetCheckResult) -> None:
        self.results.append(result)

    def result(self, check_name: str) -> dg.AssetCheckResult:
        if not self.results:
            return dg.AssetCheckResult(
                check_name=check_name, passed=True, metadata={"detail": "no rows to test"}
            )
        failing = [r for r in self.results if not r.passed]
        shown = failing[0] if failing else self.results[0]
        metadata: dict[str, Any] = {}
        for key, entry in shown.metadata.items():
            value = getattr(entry, "value", entry)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = sum(getattr(r.metadata.get(key), "value", 0) or 0 for r in self.results)
            metadata[key] = value
        metadata["blocks_checked"] = len(self.results)
        return dg.AssetCheckResult(check_name=check_name, passed=not failing, metadata=metadata)


def float_counts(joined: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """`joined` with the integer columns the join added as float64.

    A row may carry no match, and then its counts are NaN: pandas keeps an integer column
    only in a block where every row matched, so each block would store its own type.
    """
    ints = [
        c
        for c in joined.columns
        if c not in daily.columns and pd.api.types.is_integer_dtype(joined[c].dtype)
    ]
    return joined.astype({c: "float64" for c in ints}) if ints else joined
