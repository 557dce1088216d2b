"""Daily bars by calendar month: how `daily_bars` keeps decades cheap (one file per month).

A backfill of many months fetches the tickers in slices, so the source's working copies
stay a slice's worth however long the range; every slice is split by month at once, and
the months of all slices are joined at the end. Rows keep the sources' order (symbol,
then date) and their `symbol` categories (the sorted universe), so a month stored by a
30-year backfill is identical to the same month stored by the after-close refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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


@dataclass
class MonthlyBars:
    """Bars per month key ("YYYY-MM") plus the per-ticker report of the whole fetch."""

    months: dict[str, pd.DataFrame]
    result: FetchResult  # the report of every slice (its frame is empty: rows are in months)

    @property
    def rows(self) -> int:
        return sum(len(frame) for frame in self.months.values())


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


def fetch_months(
    source: PriceSource,
    tickers: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    month_keys: Sequence[str],
    *,
    rows_per_slice: int = ROWS_PER_SLICE,
    enrich: Callable[[pd.DataFrame, list[str]], pd.DataFrame] | None = None,
    on_slice: Callable[[int, int], None] | None = None,
) -> MonthlyBars:
    """Bars of `tickers` in [start, end) as one frame per month of `month_keys`.

    `enrich(frame, slice_tickers)` may fill gaps of each slice (Alpha Vantage);
    `on_slice(i, n)` is called after each slice (memory marks). Months without rows are
    empty frames of the contract layout.
    """
    universe = sorted(normalize_tickers(tickers))
    symbols = pd.CategoricalDtype(universe)
    days = max(1, len(trading_days(start, end)))
    per_slice = max(1, rows_per_slice // days)
    slices = [universe[i : i + per_slice] for i in range(0, len(universe), per_slice)] or [[]]
    parts: dict[str, list[dict[str, np.ndarray]]] = {key: [] for key in month_keys}
    report: dict[str, TickerReport] = {}
    name = ""
    for i, chunk in enumerate(slices):
        fetched = source.fetch(chunk, start, end) if chunk else None
        if fetched is not None:
            report.update(fetched.report)
            name = fetched.source
            frame = fetched.frame if enrich is None else enrich(fetched.frame, chunk)
            del fetched
            columns = _columns(frame, universe)
            for key, piece in _month_pieces(columns, columns["date"]):
                if key not in parts:
                    raise ValueError(
                        f"{source.name} returned rows for {key}, outside the months asked for "
                        f"({month_keys[0]}..{month_keys[-1]})"
                    )
                parts[key].append(piece)
            del frame, columns  # the pieces are the slice's only copy from here on
        if on_slice is not None:
            on_slice(i, len(slices))
    empty = empty_bars(universe)
    months = {}
    for key in month_keys:
        # Popped as joined: a month's slices are freed as its whole frame is made.
        pieces = parts.pop(key)
        if not pieces:
            months[key] = empty
            continue
        joined = {c: np.concatenate([p[c] for p in pieces]) for c in BAR_COLUMNS}
        del pieces
        months[key] = _frame(joined, symbols)
    return MonthlyBars(months=months, result=FetchResult(frame=empty, report=report, source=name))
