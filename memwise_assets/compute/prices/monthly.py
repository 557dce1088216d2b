"""Daily bars by calendar month: how `daily_bars` keeps decades cheap (one file per month).

A backfill of many months fetches the tickers in slices, so the source's working copies
stay a slice's worth however long the range; every slice is split by month at once, the
pieces are spilled to disk past a bound, and the months are joined and given back one at a
time at the end, for the caller to store each as it comes. Rows keep the sources' order (symbol,
then date) and their `symbol` categories (the sorted universe), so a month stored by a
30-year backfill is identical to the same month stored by the after-close refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from memwise_assets.compute.prices.calendar import trading_days
from memwise_assets.compute.prices.clean import ticker_codes
from memwise_assets.compute.prices.schema import (
    BAR_COLUMNS,
    FetchResult,
    PriceSource,
    TickerReport,
    empty_bars,
    normalize_tickers,
)

MONTH_FORMAT = "%Y-%m"
# Rows per fetched slice: about 33 tickers x 30 years, ~15 MB of bars plus the source's
# working copies; a 30-year, 500-ticker backfill peaks ~290 MB (sample) to ~330 MB (CSV) above
# its start.
ROWS_PER_SLICE = 250_000
# At most this many tickers per slice, however short the range: a source's work per ticker
# need not follow the days asked (the sample simulates from its epoch; a month of 5,000
# tickers in one slice took 1.3 GB), and 100 is yfinance's own batch.
TICKERS_PER_SLICE = 100
# Month pieces held in memory before a spill to disk (a 30-year backfill of 5,000 tickers
# holds ~2.3 GB of bars in all: about 15 spills).
HOLD_MB = 160.0
MB = 1024.0 * 1024.0


def month_key(day: object) -> str:
    """The month partition key ("YYYY-MM") of a day."""
    return pd.Timestamp(day).strftime(MONTH_FORMAT)


def _key(month: int) -> str:
    """The key of a month counted from 1970-01 (numpy's datetime64[M])."""
    return f"{1970 + month // 12:04d}-{month % 12 + 1:02d}"


def _month_pieces(
    columns: dict[str, np.ndarray], dates: np.ndarray
) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(month key, that month's rows of every column) in month order, rows in input order.

    One stable sort by month, then one gather per month and column: each piece is its own
    copy, so pieces kept by a caller never keep the whole input alive.
    """
    months = dates.astype("datetime64[M]").astype(np.int64)
    order = np.argsort(months, kind="stable")
    months = months[order]
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]]) if len(months) else []
    ends = [*starts[1:], len(months)]
    for lo, hi in zip(starts, ends, strict=True):
        rows = order[lo:hi]
        yield _key(int(months[lo])), {name: values[rows] for name, values in columns.items()}


def _columns(frame: pd.DataFrame, universe: list[str]) -> dict[str, np.ndarray]:
    """The frame's columns as arrays, `symbol` as codes into the sorted universe."""
    columns = {c: frame[c].to_numpy() for c in BAR_COLUMNS if c != "symbol"}
    return {"symbol": ticker_codes(frame["symbol"], universe), **columns}


def _frame(columns: dict[str, np.ndarray], symbols: pd.CategoricalDtype) -> pd.DataFrame:
    """A contract frame over the arrays (no copy: pandas keeps one block per column)."""
    codes = columns["symbol"]
    return pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(codes, dtype=symbols),
            **{c: columns[c] for c in BAR_COLUMNS if c != "symbol"},
        },
        copy=False,
    )


def split_by_month(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows of `frame` grouped by the month of their `date`, in order, index reset."""
    symbols = frame["symbol"].dtype
    universe = list(symbols.categories)
    return {
        key: _frame(piece, symbols)
        for key, piece in _month_pieces(_columns(frame, universe), frame["date"].to_numpy())
    }


class MonthStream:
    """Bars of `tickers` in [start, end), fetched by ticker slices, given back month by month.

    `months()` fetches every slice (a month is finished only once every ticker is in), then
    yields `(key, frame)` for each key of `month_keys` in order; months without rows are
    empty frames of the contract layout. While fetching, the slices' month pieces are held
    up to `hold_mb`, then spilled to one Arrow file in `spill_dir` (a month's rows of every
    spill are read back when that month is joined): the stream holds one slice, the pieces
    below `hold_mb` and one month, however many tickers and months it covers.
    `enrich(frame, slice_tickers)` may fill gaps of each slice (Alpha Vantage); `on_slice(i, n)`
    is called after each slice (memory marks). `result` is the report of every slice once
    the fetch is over (its frame is empty: rows are in the months).
    """

    def __init__(
        self,
        source: PriceSource,
        tickers: Sequence[str],
        start: pd.Timestamp,
        end: pd.Timestamp,
        month_keys: Sequence[str],
        *,
        spill_dir: Path | None = None,
        hold_mb: float = HOLD_MB,
        rows_per_slice: int = ROWS_PER_SLICE,
        enrich: Callable[[pd.DataFrame, list[str]], pd.DataFrame] | None = None,
        on_slice: Callable[[int, int], None] | None = None,
    ) -> None:
        self.source, self.start, self.end = source, start, end
        self.month_keys = list(month_keys)
        self.universe = sorted(normalize_tickers(tickers))
        self.symbols = pd.CategoricalDtype(self.universe)
        self.spill_dir, self.hold_bytes = spill_dir, hold_mb * MB
        self.rows_per_slice, self.enrich, self.on_slice = rows_per_slice, enrich, on_slice
        self.result = FetchResult(frame=empty_bars(self.universe), report={}, source="")
        self.spills = 0
        self.rows = 0

    def months(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(month key, its bars) for every month asked, in order, after the whole fetch."""
        held, spills = self._fetch()
        empty = empty_bars(self.universe)
        readers = [_months_index(pa.ipc.open_file(pa.OSFile(str(path)))) for path in spills]
        try:
            for key in self.month_keys:
                pieces = [_piece(reader, index[key]) for reader, index in readers if key in index]
                pieces += held.pop(key, [])  # pieces in slice order: spilled ones came first
                if not pieces:
                    yield key, empty
                    continue
                joined = {c: np.concatenate([p[c] for p in pieces]) for c in BAR_COLUMNS}
                del pieces
                self.rows += len(joined["date"])
                yield key, _frame(joined, self.symbols)
                del joined
        finally:
            for path in spills:
                path.unlink(missing_ok=True)

    def _fetch(self) -> tuple[dict[str, list[dict[str, np.ndarray]]], list[Path]]:
        days = max(1, len(trading_days(self.start, self.end)))
        per_slice = max(1, min(self.rows_per_slice // days, TICKERS_PER_SLICE))
        universe = self.universe
        slices = [universe[i : i + per_slice] for i in range(0, len(universe), per_slice)] or [[]]
        held: dict[str, list[dict[str, np.ndarray]]] = {}
        held_bytes = 0
        spills: list[Path] = []
        report: dict[str, TickerReport] = {}
        name = ""
        for i, chunk in enumerate(slices):
            fetched = self.source.fetch(chunk, self.start, self.end) if chunk else None
            if fetched is not None:
                report.update(fetched.report)
                name = fetched.source
                frame = fetched.frame if self.enrich is None else self.enrich(fetched.frame, chunk)
                del fetched
                columns = _columns(frame, universe)
                del frame
                for key, piece in _month_pieces(columns, columns["date"]):
                    if key not in self.month_keys:
                        raise ValueError(
                            f"{self.source.name} returned rows for {key}, outside the months "
                            f"asked for ({self.month_keys[0]}..{self.month_keys[-1]})"
                        )
                    held.setdefault(key, []).append(piece)
                    held_bytes += sum(v.nbytes for v in piece.values())
                del columns  # the pieces are the slice's only copy from here on
                if self.spill_dir is not None and held_bytes > self.hold_bytes:
                    spills.append(_spill(held, self.spill_dir, len(spills)))
                    held, held_bytes = {}, 0
            if self.on_slice is not None:
                self.on_slice(i, len(slices))
        self.spills = len(spills)
        self.result = FetchResult(frame=empty_bars(universe), report=report, source=name)
        return held, spills


def _months_index(
    reader: pa.ipc.RecordBatchFileReader,
) -> tuple[pa.ipc.RecordBatchFileReader, dict[str, int]]:
    """A spill's reader with its month -> batch index (kept in the file's metadata)."""
    keys = (reader.schema.metadata or {}).get(b"months", b"").decode().split(",")
    return reader, {key: i for i, key in enumerate(keys) if key}


def _spill(held: dict[str, list[dict[str, np.ndarray]]], folder: Path, n: int) -> Path:
    """The held pieces to one Arrow file, one record batch per month (pieces in order).

    Month by month: each month's pieces are joined, written and dropped before the next, so
    a spill never holds a second copy of what it writes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"months-spill-{n:05d}.arrow"
    keys = sorted(held)
    schema = pa.schema([(c, pa.from_numpy_dtype(held[keys[0]][0][c].dtype)) for c in BAR_COLUMNS])
    schema = schema.with_metadata({"months": ",".join(keys)})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for key in keys:
            pieces = held.pop(key)
            joined = {c: np.concatenate([p[c] for p in pieces]) for c in BAR_COLUMNS}
            del pieces
            writer.write_batch(pa.record_batch([pa.array(joined[c]) for c in BAR_COLUMNS], schema))
            del joined
    return path


def _piece(reader: pa.ipc.RecordBatchFileReader, index: int) -> dict[str, np.ndarray]:
    batch = reader.get_batch(index)
    return {c: batch.column(c).to_numpy(zero_copy_only=False) for c in BAR_COLUMNS}
