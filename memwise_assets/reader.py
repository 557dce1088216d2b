"""Stored assets into pandas: by asset, date range, symbols and columns, reading only those.

`load("daily_with_weekly_features", start="2024-01-01", end="2024-12-31",
symbols=["AAPL", "MSFT"], columns=["close", "ret_4w"])` opens the asset's stored Parquet
(one file, or a folder of files: a partitioned asset's months, or a folder the IO manager
writes) as one `pyarrow.dataset` and pushes the filters down, so row groups and files outside
the range are skipped and other columns are never read.

One instrument column: tables that name it `ticker` (company data, filings) are returned with
it as `symbol` too; asking for `ticker` by name still works.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

SYMBOL = "symbol"
OLD_SYMBOL_NAMES = ("ticker",)
# The column `start`/`end` filter on, first present wins (daily rows, weeks, intraday bars,
# statements, filings).
DATE_COLUMNS = ("date", "week_end", "timestamp", "period_end", "filed_date")

DateLike = str | dt.date | pd.Timestamp


def data_root(home: str | os.PathLike[str] | None = None) -> Path:
    """The folder of stored outputs: `<home>/memwise/data` ($DAGSTER_HOME or ./.memwise_home)."""
    if home is None:
        from memwise_assets.defs.home_and_size import memwise_home

        return memwise_home() / "data"
    return Path(home) / "memwise" / "data"


def asset_path(asset: str, home: str | os.PathLike[str] | None = None) -> Path:
    """Where `asset` is stored (a Parquet file or a folder of them), as the IO manager writes it.

    The one place the loader learns a path: the IO manager's own path helper, for an
    unpartitioned output and else for the folder of its partitions.
    """
    import dagster as dg

    from memwise_assets.defs.io_manager import ParquetIOManager

    key = dg.AssetKey.from_user_string(asset)
    manager = ParquetIOManager(base_dir=str(data_root(home)))
    whole = manager._get_path(key)
    if whole.exists():
        return whole
    partitions = manager._get_path(key, "partition").parent
    if partitions.is_dir():
        return partitions
    stored = sorted(p.name for p in manager.root.iterdir()) if manager.root.is_dir() else []
    raise FileNotFoundError(
        f"{asset}: nothing stored at {whole} or {partitions}; stored assets under "
        f"{manager.root}: {', '.join(stored) or 'none (run `memwise demo` first)'}"
    )


def _bound(value: DateLike, field: str, kind: pa.DataType, *, end: bool) -> pc.Expression:
    """`field >= start`, or `field <= end` (a date-only end: before the next midnight)."""
    stamp = pd.Timestamp(value)
    if pa.types.is_timestamp(kind) and kind.tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(kind.tz)
    if pa.types.is_date(kind):
        scalar = pa.scalar(stamp.date(), type=kind)
        return pc.field(field) <= scalar if end else pc.field(field) >= scalar
    if not end:
        return pc.field(field) >= pa.scalar(stamp, type=kind)
    if stamp == stamp.normalize():
        return pc.field(field) < pa.scalar(stamp + pd.Timedelta(days=1), type=kind)
    return pc.field(field) <= pa.scalar(stamp, type=kind)


def load(
    asset: str,
    start: DateLike | None = None,
    end: DateLike | None = None,
    symbols: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    date_column: str | None = None,
) -> pd.DataFrame:
    """A stored asset as a DataFrame, only the rows in [start, end] of `symbols` and `columns`.

    `end` is inclusive (a date without a time includes that whole day). `home` is the Dagster
    home (default $DAGSTER_HOME, else ./.memwise_home); `date_column` overrides the column the
    dates filter on (default the first of date, week_end, timestamp, period_end, filed_date).
    """
    dataset = ds.dataset(asset_path(asset, home), format="parquet")
    schema = dataset.schema
    names = schema.names
    instrument = next((n for n in (SYMBOL, *OLD_SYMBOL_NAMES) if n in names), None)
    dates = date_column or next((n for n in DATE_COLUMNS if n in names), None)
    wanted = list(columns) if columns is not None else list(names)
    read = [instrument if c == SYMBOL and instrument else c for c in wanted]
    unknown = [c for c in read if c not in names]
    if unknown:
        raise ValueError(f"{asset} has no columns {unknown}; it has: {', '.join(names)}")
    expression: pc.Expression | None = None

    def both(part: pc.Expression) -> None:
        nonlocal expression
        expression = part if expression is None else expression & part

    if symbols is not None:
        if instrument is None:
            raise ValueError(f"{asset} has no symbol or ticker column to filter symbols on")
        both(pc.field(instrument).isin([str(s).upper() for s in symbols]))
    for value, is_end in ((start, False), (end, True)):
        if value is None:
            continue
        if dates is None or dates not in names:
            raise ValueError(f"{asset}: no date column to filter on; give date_column=")
        both(_bound(value, dates, schema.field(dates).type, end=is_end))
    frame = dataset.to_table(columns=list(dict.fromkeys(read)), filter=expression).to_pandas()
    if instrument and instrument != SYMBOL and instrument in frame.columns:
        if columns is None or SYMBOL in wanted:
            frame.insert(frame.columns.get_loc(instrument), SYMBOL, frame[instrument])
        if columns is not None and instrument not in wanted:
            frame = frame.drop(columns=instrument)
    for name in (SYMBOL, instrument):
        if name in frame.columns and isinstance(frame[name].dtype, pd.CategoricalDtype):
            # The stored dictionary holds the whole universe; a notebook wants what it read.
            frame[name] = frame[name].cat.remove_unused_categories()
    return frame.reset_index(drop=True)
