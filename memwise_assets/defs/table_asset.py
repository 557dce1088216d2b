"""`table_asset`: the decorator of a memwise asset stored as a described Parquet table.

Every such asset carries the same Dagster arguments: its group, the `pandas`/`parquet` kinds,
its column schema from `defs/columns.py` (found by the asset's name: `name=` or the
function's), and the columns it
reads from each upstream table (the IO manager loads only those). Saying them once here
keeps each asset's decorator to what is its own: checks, budget, partitions. The memory
budget its step runs under names the asset's Dagster concurrency pool (`Budget.pool`), so
the pool is said once, in `defs/budgets.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from memwise_assets.defs.budgets import budget_named
from memwise_assets.defs.columns import column_metadata

TABLE_KINDS = {"pandas", "parquet"}
# The op tag naming the budget an asset declares (tests compare it with the budget its step
# recorded: the pool comes from the one, the step runs under the other).
BUDGET_TAG = "memwise/budget"


def table_asset(
    group: str,
    *,
    budget: str | None = None,
    reads: Mapping[str, Sequence[str]] | None = None,
    **asset_args: Any,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dg.asset` with memwise's table arguments; `reads`: upstream asset -> columns loaded.

    `budget`: the memory budget the asset's step runs under; the asset takes its pool (an
    explicit `pool=` wins: a step bound by something other than memory, e.g. a request rate).
    Other keywords (`check_specs`, `partitions_def`, ...) pass through to `dg.asset`;
    upstream assets not in `reads` are loaded whole.
    """
    if budget is not None:
        asset_args.setdefault("pool", budget_named(budget).pool)
        asset_args["op_tags"] = {**asset_args.get("op_tags", {}), BUDGET_TAG: budget}

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        ins = {name: dg.AssetIn(metadata={"columns": list(c)}) for name, c in (reads or {}).items()}
        return dg.asset(
            group_name=group,
            kinds=TABLE_KINDS,
            metadata=column_metadata(asset_args.get("name") or fn.__name__),
            **({"ins": ins} if ins else {}),
            **asset_args,
        )(fn)

    return decorate
