"""A stored table not yet read: what a block-reading step gets for its input.

The IO manager hands an asset that asks for `StoredTable` this handle instead of a frame:
nothing is read before the step is admitted. Its size (rows, file and memory MB) comes from
the Parquet footers; its symbols and their row counts from the `symbol` column alone; a
block (a range of symbols, only the columns asked) reads just the row groups whose
statistics overlap it, so the step's memory follows the block, not the table.

A step that reads many blocks gives the table a scratch folder (`spill_into`): `blocks` then
decodes every row group once, splitting the rows into one file per block first
(`block_split`), instead of decoding a row group again for every block it serves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from memwise_assets.defs.block_split import BlockSplit, symbol_time_order, time_column
from memwise_assets.defs.budgets import MB

# Bytes per value in memory by Arrow type width (a category code is 4 bytes).
_DEFAULT_WIDTH = 8
# Rows of the symbol column counted at once (4 MB of codes).
_COUNT_BATCH = 1 << 20


class StoredTable:
    """Parquet files of one asset (partitions or blocks), read by symbol block on demand."""

    def __init__(self, label: str, files: Sequence[Path], columns: Sequence[str] | None = None):
        self.label = label
        self.files = list(files)
        self.columns = list(columns) if columns else None
        self.scratch: Path | None = None
        self.spill_ordered = True

    def spill_into(self, folder: Path, *, ordered: bool = True) -> None:
        """Let `blocks` split the table into one file per block under `folder` first (the
        step's scratch folder): each row group is then decoded once, not once per block.

        `ordered=False` skips the sort of each block: its rows then come file by file, each
        by symbol then date, so every symbol's rows are still in date order, but symbols
        interleave. For a pass that numbers rows by their keys (the weekly pass): the sort
        was a third of reading a block back.
        """
        self.scratch = Path(folder)
        self.spill_ordered = ordered

    def __repr__(self) -> str:
        return f"StoredTable({self.label}, {len(self.files)} files, {self.rows:,} rows)"

    @functools.cached_property
    def _footers(self) -> list[pq.FileMetaData]:
        return [pq.read_metadata(path) for path in self.files]

    @functools.cached_property
    def _spans(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [_symbol_spans(meta) for meta in self._footers]

    @property
    def rows(self) -> int:
        """Rows stored, from the footers."""
        return sum(meta.num_rows for meta in self._footers)

    @property
    def file_mb(self) -> float:
        """Bytes on disk in MB."""
        return sum(path.stat().st_size for path in self.files) / MB

    @property
    def memory_mb(self) -> float:
        """The table's size in memory as a frame of the asked columns (the estimate's input)."""
        if not self.files:
            return 0.0
        schema = self._footers[0].schema.to_arrow_schema()
        names = self.columns or schema.names
        width = 0
        for name in names:
            kind = schema.field(name).type
            if pa.types.is_dictionary(kind):
                width += kind.index_type.bit_width // 8
            else:
                width += getattr(kind, "bit_width", _DEFAULT_WIDTH * 8) // 8 or _DEFAULT_WIDTH
        return self.rows * width / MB

    @functools.cached_property
    def symbol_rows(self) -> pd.Series:
        """Rows per symbol (index: symbols sorted), read from the `symbol` column only."""
        counts = _SymbolCounts()
        for path, meta in zip(self.files, self._footers, strict=True):
            file = pq.ParquetFile(path, metadata=meta)
            for batch in file.iter_batches(_COUNT_BATCH, columns=["symbol"], use_threads=False):
                counts.add(batch.column(0))
        return counts.series()

    def date_range(self, column: str = "date") -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last value of `column`, from the row groups' statistics."""
        lows, highs = [], []
        for meta in self._footers:
            index = meta.schema.to_arrow_schema().get_field_index(column)
            for group in range(meta.num_row_groups):
                stats = meta.row_group(group).column(index).statistics
                if meta.row_group(group).num_rows and stats is not None and stats.has_min_max:
                    lows.append(pd.Timestamp(stats.min))
                    highs.append(pd.Timestamp(stats.max))
        return (min(lows), max(highs)) if lows else None

    def read(
        self,
        first: str | None = None,
        last: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of symbols in [first, last] (None: no bound), sorted by symbol then date.

        Row groups whose `symbol` statistics lie outside the range are never read.
        """
        names = list(columns) if columns else self.columns
        tables = []
        for path, meta, spans in zip(self.files, self._footers, self._spans, strict=True):
            groups = _groups_overlapping(spans, first, last)
            if not groups:
                continue
            file = pq.ParquetFile(path, metadata=meta)
            table = file.read_row_groups(groups, columns=names, use_threads=False)
            tables.append(_rows_within(table, first, last))
        if not tables:
            schema = self._footers[0].schema.to_arrow_schema() if self.files else pa.schema([])
            empty = schema.empty_table()
            return empty.select(names).to_pandas() if names else empty.to_pandas()
        table = _concat(tables)
        del tables
        frame = table.to_pandas()
        del table
        if isinstance(frame["symbol"].dtype, pd.CategoricalDtype):
            # The block's own symbols only: per-symbol arrays of the compute passes are sized
            # by the categories, which would otherwise be the whole stored universe.
            frame["symbol"] = frame["symbol"].cat.remove_unused_categories()
        return _by_symbol_and_date(frame)

    def read_all(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole table (small assets, notebooks): files in order, rows as stored."""
        names = list(columns) if columns else self.columns
        table = _concat([pq.read_table(path, columns=names) for path in self.files])
        return table.to_pandas().reset_index(drop=True)

    def blocks(
        self, bounds: Sequence[tuple[int, int]], columns: Sequence[str] | None = None
    ) -> Iterator[pd.DataFrame]:
        """One frame per planned block `[lo, hi)` of positions in `symbol_rows`, each as
        `read` gives it; split in one pass first when a scratch folder is set."""
        symbols = self.symbol_rows.index
        spans = [(int(lo), int(hi)) for lo, hi in bounds if hi > lo]
        if self.scratch is None or len(spans) < 2 or not self.files:
            for lo, hi in spans:
                yield self.read(symbols[lo], symbols[hi - 1], columns)
            return
        names = list(columns) if columns else self.columns
        first, last = symbols[spans[0][0]], symbols[spans[-1][1] - 1]
        split = BlockSplit(
            self.label,
            [
                (path, meta, _groups_overlapping(spans_of_file, first, last))
                for path, meta, spans_of_file in zip(
                    self.files, self._footers, self._spans, strict=True
                )
            ],
            symbols,
            spans,
            names or self._footers[0].schema.to_arrow_schema().names,
            ordered=self.spill_ordered,
        )
        yield from split.frames(
            self.scratch, lambda lo, hi: self.read(symbols[lo], symbols[hi - 1], names)
        )


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table of the files' tables (a file's own when there is one: no copy)."""
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


class _SymbolCounts:
    """Rows per symbol over many batches; batches sharing a dictionary (the month files of
    one universe) are counted by one `bincount` each, without a string per row."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.words: pa.Array | None = None
        self.pending: np.ndarray | None = None

    def add(self, column: pa.Array) -> None:
        if not pa.types.is_dictionary(column.type):
            counts = column.value_counts()
            words = counts.field("values").to_pylist()
            self._merge(words, counts.field("counts").to_numpy())
            return
        codes = column.indices.to_numpy(zero_copy_only=False)
        n = np.bincount(codes, minlength=len(column.dictionary))
        if self.words is not None and self.words.equals(column.dictionary):
            self.pending += n
            return
        self._flush()
        self.words, self.pending = column.dictionary, n

    def _flush(self) -> None:
        if self.words is not None and self.pending is not None:
            self._merge(self.words.to_pylist(), self.pending)
        self.words, self.pending = None, None

    def _merge(self, words: list, counts: np.ndarray) -> None:
        for word, rows in zip(words, counts.tolist(), strict=True):
            if rows:
                self.totals[str(word)] = self.totals.get(str(word), 0) + int(rows)

    def series(self) -> pd.Series:
        self._flush()
        return pd.Series(self.totals, dtype="int64").sort_index()


def _symbol_spans(meta: pq.FileMetaData) -> tuple[np.ndarray, np.ndarray]:
    """Each row group's first and last symbol (None-free: no statistics spans everything)."""
    index = meta.schema.to_arrow_schema().get_field_index("symbol")
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics if index >= 0 else None
        known = stats is not None and stats.has_min_max
        lows.append(str(stats.min) if known else "")
        highs.append(str(stats.max) if known else "\U0010ffff")
    return np.asarray(lows, dtype=object), np.asarray(highs, dtype=object)


def _groups_overlapping(
    spans: tuple[np.ndarray, np.ndarray], first: str | None, last: str | None
) -> list[int]:
    lows, highs = spans
    keep = np.ones(len(lows), dtype=bool)
    if last is not None:
        keep &= lows <= last
    if first is not None:
        keep &= highs >= first
    return np.flatnonzero(keep).tolist()


def _rows_within(table: pa.Table, first: str | None, last: str | None) -> pa.Table:
    if first is None and last is None:
        return table
    column = table.column("symbol")
    masks = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            words = np.asarray(chunk.dictionary.to_pylist(), dtype=object)
            keep = _between(words, first, last)
            masks.append(keep[chunk.indices.to_numpy(zero_copy_only=False)])
        else:
            masks.append(_between(np.asarray(chunk.to_pylist(), dtype=object), first, last))
    mask = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    return table if mask.all() else table.filter(pa.array(mask))


def _between(words: np.ndarray, first: str | None, last: str | None) -> np.ndarray:
    keep = np.ones(len(words), dtype=bool)
    if first is not None:
        keep &= words >= first
    if last is not None:
        keep &= words <= last
    return keep


def _by_symbol_and_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by symbol, then date (month files hold months in order): a stable sort."""
    if "symbol" not in frame.columns or len(frame) < 2:
        return frame.reset_index(drop=True)
    kind = frame["symbol"].dtype
    if isinstance(kind, pd.CategoricalDtype) and kind.categories.is_monotonic_increasing:
        codes = frame["symbol"].cat.codes.to_numpy()
        n_codes = len(kind.categories)
    else:
        codes, uniques = pd.factorize(frame["symbol"].astype(str), sort=True)
        n_codes = len(uniques)
    time_col = time_column(list(frame.columns))
    times = None if time_col is None else frame[time_col].to_numpy()
    order = symbol_time_order(codes, times, n_codes)
    if order is None:
        return frame.reset_index(drop=True)
    return frame.take(order).reset_index(drop=True)
