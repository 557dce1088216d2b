"""Block plans: how many rows a step may hold at once, from its budget and a cost per row.

A heavy step reads its input by blocks of whole symbols (windows, holes and barrier paths are
per symbol, so a block boundary between two symbols changes no answer). The plan gives each
block as many symbols as fit in `share` of the budget at `bytes_per_row`; a symbol larger
than that is a block of its own (the smallest unit the answers allow). A smaller budget gives
more, smaller blocks, never a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MB = 1024.0 * 1024.0
# Of the admitted budget, the share a block's working set may take: the rest covers the
# block in flight to the writer, the allocator's slack and the step's own fixed costs.
BLOCK_SHARE = 0.5
# Never plan blocks smaller than this (unless a budget is tiny): per-block fixed costs.
MIN_BLOCK_ROWS = 10_000
# A block's working set stays below this however large the budget: past a few million rows
# a larger block buys little time (a block's fixed cost is a fraction of a second) and
# holds host memory the ledger could give to another step; and a step then stays within
# 1 GB of the RSS it started with.
MAX_BLOCK_MB = 768.0


@dataclass(frozen=True)
class BlockPlan:
    """Contiguous symbol ranges `[lo, hi)` (positions in the sorted symbol list)."""

    bounds: tuple[tuple[int, int], ...]
    block_rows: int  # the planned row cap of one block
    largest_rows: int  # rows of the largest planned block
    total_rows: int
    reason: str

    @property
    def blocks(self) -> int:
        return len(self.bounds)


def rows_cap(budget_mb: float, bytes_per_row: float, share: float = BLOCK_SHARE) -> int:
    """Rows a block may hold: `share` of the budget (at most `MAX_BLOCK_MB`) over the cost
    of one row."""
    if bytes_per_row <= 0:
        raise ValueError(f"bytes_per_row: expected a positive cost, got {bytes_per_row}")
    working_mb = min(budget_mb * share, MAX_BLOCK_MB)
    return max(MIN_BLOCK_ROWS, int(working_mb * MB / bytes_per_row))


def plan_blocks(
    rows_per_symbol: Sequence[int],
    *,
    budget_mb: float,
    bytes_per_row: float,
    basis: str = "static",
    share: float = BLOCK_SHARE,
    max_rows: int | None = None,
) -> BlockPlan:
    """Group consecutive symbols into blocks of at most the budget's rows.

    `rows_per_symbol`: rows of each symbol in sorted symbol order; `max_rows` caps a block
    lower than the budget would (tests, one symbol per block with 1).
    """
    cap = rows_cap(budget_mb, bytes_per_row, share)
    if max_rows is not None:
        cap = max(1, min(cap, int(max_rows)))
    bounds: list[tuple[int, int]] = []
    lo, held, largest = 0, 0, 0
    for i, rows in enumerate(rows_per_symbol):
        rows = int(rows)
        if held and held + rows > cap:
            bounds.append((lo, i))
            largest = max(largest, held)
            lo, held = i, 0
        held += rows
    if held or not bounds:
        bounds.append((lo, len(rows_per_symbol)))
        largest = max(largest, held)
    total = int(sum(int(r) for r in rows_per_symbol))
    reason = (
        f"min({budget_mb:.0f} MB budget x {share:.2f}, {MAX_BLOCK_MB:.0f} MB) / "
        f"{bytes_per_row:.0f} B per row ({basis}) = "
        f"{cap:,} rows per block; {total:,} rows of {len(rows_per_symbol):,} symbols in "
        f"{len(bounds)} block(s), largest {largest:,} rows"
    )
    return BlockPlan(tuple(bounds), cap, largest, total, reason)
