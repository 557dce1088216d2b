"""Block passes of the weekly assets as history and tail files, and the tail path.

A full build writes each block as its rows before the split (`part-NNNNN.parquet`) and its
rows from the split on (`part-NNNNN.tail.parquet`). The tail path links every history file
of the current version and recomputes each block's tail from a lookback long enough that
every window and exponential mean of a row in the tail is the whole-history one:

- weekly features: windows reach 52 weeks back, and the RSI's exponential mean (alpha 1/14)
  forgets a start 460 weeks back to (13/14)^460 = 1.6e-15 of its value. The weekly history
  ends three weeks before the split, so the tail holds every week a daily row from the split
  on can carry.
- daily rows with weekly features: a row carries a week at most 13 days old on NYSE sessions
  (an older one would mean sessions without a bar: a hole, after which nothing earlier is
  carried), so 60 days of daily rows before the split find every run start that matters.

Read in file-name order, rows run by block, history before tail, then symbol and date; a
stored-table read of a symbol range comes back sorted by symbol and date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.compute.weekly.features import weekly_features
from memwise_assets.defs.blocked import BLOCK_BASE_MB, attach_block, block_estimate_mb, row_cost
from memwise_assets.defs.refresh import Refresh, block_records, recent_files
from memwise_assets.defs.store import MANIFEST_NAME, Part
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import MB, BlockPlan

WEEKLY_LOOKBACK = pd.Timedelta(weeks=460)
# The weekly history ends this long before the split (see the module's docstring).
WEEKLY_HISTORY_GAP = pd.Timedelta(days=21)
ATTACH_LOOKBACK = pd.Timedelta(days=60)

WeeklyHook = Callable[[int, pd.DataFrame, pd.DataFrame], None]
AttachHook = Callable[[int, pd.DataFrame], None]


def tail_estimate_mb(manifest: dict[str, Any], cost: str, limit_mb: float) -> float:
    """The admission estimate of a tail path: the full build's largest block, at most."""
    return min(limit_mb, BLOCK_BASE_MB + manifest["largest_rows"] * row_cost(cost) / MB)


def refresh_estimate_mb(refresh: Refresh, stored: StoredTable, cost: str, limit_mb: float) -> float:
    """The admission estimate of the path `refresh` chose: a full build's or a tail's."""
    if refresh.manifest is None:
        return block_estimate_mb(stored, cost, limit_mb)
    return tail_estimate_mb(refresh.manifest, cost, limit_mb)


def history_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def tail_name(i: int) -> str:
    return f"part-{i:05d}.tail.parquet"


def _split(
    i: int, held: list[pd.DataFrame], column: str, split: pd.Timestamp, names: list[str | None]
) -> Iterator[Part]:
    """Block `i` (the one frame in `held`) as its history and tail files (an empty side gets
    no file). The small tail is taken first and the block is let go once its history is
    copied out: never more than the block and one copy of it, as an unsplit block."""
    frame = held.pop()
    before = (frame[column] < split).to_numpy()
    tail = frame[~before].reset_index(drop=True) if not before.all() else None
    history = frame[before].reset_index(drop=True) if before.any() else None
    del frame
    names.append(history_name(i) if history is not None else None)
    if history is not None:
        yield Part(history_name(i), history)
    del history
    if tail is not None:
        yield Part(tail_name(i), tail)


def weekly_full_parts(
    stored: StoredTable,
    plan: BlockPlan,
    price_field: str,
    sessions: pd.DatetimeIndex,
    history_end: pd.Timestamp,
    names: list[str | None],
    on_block: WeeklyHook | None = None,
) -> Iterator[Part]:
    """Every block's weekly features, split at `history_end` (block history names to `names`)."""
    # The passes of `weekly_blocks`, written out: a generator suspended at its `yield` would
    # hold each block while its history copy is written.
    for i, daily in enumerate(stored.blocks(plan.bounds)):
        held = [weekly_features(daily, price_field=price_field, sessions=sessions)]
        if on_block is not None:
            on_block(i, daily, held[0])
        del daily
        yield from _split(i, held, "week_end", history_end, names)


def attach_full_parts(
    daily_bars: StoredTable,
    features: StoredTable,
    plan: BlockPlan,
    available: str,
    sessions: pd.DatetimeIndex,
    split: pd.Timestamp,
    names: list[str | None],
    on_block: AttachHook | None = None,
    max_age_days: int | None = None,
) -> Iterator[Part]:
    """Every block's daily rows with weekly features, split at `split`."""
    symbols = daily_bars.symbol_rows.index
    # The passes of `attach_blocks`, written out (see `weekly_full_parts`); the daily side
    # through `blocks`, so a split pass decodes each row group once.
    dailies = daily_bars.blocks([(lo, hi) for lo, hi in plan.bounds if hi > lo])
    for i, (lo, hi) in enumerate(plan.bounds):
        daily = next(dailies) if hi > lo else daily_bars.read(symbols[lo], symbols[hi - 1])
        weekly = features.read(symbols[lo], symbols[hi - 1])
        held = [attach_block(daily, weekly, available, sessions, max_age_days)]
        del daily, weekly
        if on_block is not None:
            on_block(i, held[0])
        yield from _split(i, held, "date", split, names)


def full_manifest(
    config_fp: str,
    inputs: dict[str, str],
    split: pd.Timestamp,
    stored: StoredTable,
    plan: BlockPlan,
    names: list[str | None],
    **extra: Any,
) -> dict[str, Any]:
    """What a full build's version was built from (read back by the next build's decision)."""
    symbols = stored.symbol_rows.index
    return {
        "config": config_fp,
        "inputs": inputs,
        "split": str(split.date()),
        **extra,
        "symbols": [str(s) for s in symbols],
        "blocks": block_records(symbols, plan.bounds, names),
        "largest_rows": plan.largest_rows,
    }


def reused_parts(refresh: Refresh) -> Iterator[Part]:
    """Every file of the current version, linked (nothing changed)."""
    assert refresh.previous is not None
    for path in sorted(refresh.previous.glob("*.parquet")):
        yield Part(path.name, source=path)


def _history(refresh: Refresh, block: dict) -> Iterator[Part]:
    assert refresh.previous is not None
    if block["history"]:
        yield Part(block["history"], source=refresh.previous / block["history"])


def _tail_parts(
    daily_bars: StoredTable,
    refresh: Refresh,
    since: pd.Timestamp,
    lookback: pd.Timedelta,
    column: str,
    compute: Callable[[int, dict, pd.DataFrame], pd.DataFrame],
) -> Iterator[Part]:
    """Each block's history file linked, then `compute(i, block, daily rows from `since` minus
    `lookback`)` kept from `since` on (by `column`) as the block's tail file."""
    assert refresh.manifest is not None
    recent = StoredTable(
        daily_bars.label, recent_files(daily_bars, since - lookback), daily_bars.columns
    )
    for i, block in enumerate(refresh.manifest["blocks"]):
        yield from _history(refresh, block)
        daily = recent.read(block["first"], block["last"])
        if not len(daily):
            continue
        out = compute(i, block, daily)
        del daily
        tail = out[(out[column] >= since).to_numpy()]
        del out
        if len(tail):
            yield Part(tail_name(i), tail.reset_index(drop=True))


def weekly_tail_parts(
    daily_bars: StoredTable,
    refresh: Refresh,
    price_field: str,
    sessions: pd.DatetimeIndex,
    on_block: WeeklyHook | None = None,
) -> Iterator[Part]:
    """History files linked; each block's weeks from the history's end recomputed."""
    assert refresh.manifest is not None

    def compute(i: int, _block: dict, daily: pd.DataFrame) -> pd.DataFrame:
        features = weekly_features(daily, price_field=price_field, sessions=sessions)
        if on_block is not None:
            on_block(i, daily, features)
        return features

    history_end = pd.Timestamp(refresh.manifest["history_end"])
    yield from _tail_parts(daily_bars, refresh, history_end, WEEKLY_LOOKBACK, "week_end", compute)


def weekly_tail_files(weekly: StoredTable) -> tuple[dict, list[Path]] | None:
    """The stored weekly version's manifest and tail files (None: no manifest beside them)."""
    if not weekly.files:
        return None
    path = weekly.files[0].parent / MANIFEST_NAME
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    return manifest, [p for p in weekly.files if p.name.endswith(".tail.parquet")]


def attach_tail_parts(
    daily_bars: StoredTable,
    weekly_tails: StoredTable,
    refresh: Refresh,
    available: str,
    sessions: pd.DatetimeIndex,
    on_block: AttachHook | None = None,
    max_age_days: int | None = None,
) -> Iterator[Part]:
    """History files linked; each block's daily rows from the split on recomputed."""
    assert refresh.manifest is not None

    def compute(i: int, block: dict, daily: pd.DataFrame) -> pd.DataFrame:
        weekly = weekly_tails.read(block["first"], block["last"])
        attached = attach_block(daily, weekly, available, sessions, max_age_days)
        if on_block is not None:
            on_block(i, attached)
        return attached

    split = pd.Timestamp(refresh.manifest["split"])
    yield from _tail_parts(daily_bars, refresh, split, ATTACH_LOOKBACK, "date", compute)
