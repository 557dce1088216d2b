"""Validation and (symbol, day) keying of long frames, shared by the weekly pass and its attach.

Rows are ordered once by (symbol code, day number), with a radix sort when both fit in 16 bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXAMPLES = 5


@dataclass(frozen=True)
class Keyed:
    """Rows of a long frame in (symbol, day) order, as the integer keys that define it."""

    codes: np.ndarray  # symbol code per row, sorted order
    days: np.ndarray  # days since the epoch per row, sorted order
    order: np.ndarray | None  # input position of each sorted row; None when already sorted
    categories: pd.Index
    date_dtype: np.dtype


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(got: {', '.join(map(str, frame.columns))})"
        )


def require_numeric(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    for name in names:
        dtype = frame[name].dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
            raise ValueError(f"{what} column {name!r} must be float or integer; got {dtype}")


def as_float64(frame: pd.DataFrame, name: str) -> np.ndarray:
    # No copy for float64 columns; float32 and integers widen here, one column at a time.
    return frame[name].to_numpy(dtype=np.float64)


def symbol_codes(symbol: pd.Series, what: str) -> tuple[np.ndarray, pd.Index]:
    if isinstance(symbol.dtype, pd.CategoricalDtype):
        # The categorical's own (compact) codes, not a copy: every use widens explicitly.
        codes = symbol.cat.codes.to_numpy()
        categories = symbol.cat.categories
    else:
        codes, categories = pd.factorize(symbol, sort=True)
        codes = codes.astype(np.int32)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ValueError(f"{what} has {missing} rows with a missing symbol")
    return codes, pd.Index(categories)


def day_numbers(values: pd.Series, what: str) -> tuple[np.ndarray, np.dtype]:
    dtype = values.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind != "M":
        raise ValueError(f"{what} column {values.name!r} must be tz-naive datetime64; got {dtype}")
    raw = values.to_numpy()
    missing = int(np.count_nonzero(np.isnat(raw)))
    if missing:
        raise ValueError(f"{what} column {values.name!r} has {missing} missing dates (NaT)")
    unit, count = np.datetime_data(dtype)
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(count, unit)) if unit != "D" else 1
    days = np.empty(len(raw), dtype=np.int32)
    # Floor division keeps any time of day on its calendar day; writing int32 straight
    # from the ufunc spares a full-length int64 temporary.
    np.floor_divide(raw.view(np.int64), per_day, out=days, casting="unsafe")
    return days, dtype


def _describe(categories: pd.Index, codes: np.ndarray, days: np.ndarray) -> str:
    shown = [
        f"({categories[c]!r}, {np.datetime64(int(d), 'D')})"
        for c, d in zip(codes[:EXAMPLES], days[:EXAMPLES], strict=True)
    ]
    return ", ".join(shown)


def sort_order(codes: np.ndarray, days: np.ndarray, n_categories: int) -> np.ndarray | None:
    """Stable order by (code, day); None when the rows are already in it."""
    code_step = np.diff(codes.astype(np.int32, copy=False))
    day_step = np.diff(days)
    in_order = bool(np.all((code_step > 0) | ((code_step == 0) & (day_step > 0))))
    date_major = bool(np.all(day_step >= 0))
    del code_step, day_step
    if in_order:
        return None
    base = int(days.min())
    span = int(days.max()) - base + 1
    if n_categories <= 1 << 16 and span <= 1 << 16:
        # Stable argsort of 16-bit keys is a radix sort: O(n), twice as fast as a
        # comparison sort here, and a single pass when rows come date by date.
        if date_major:
            return np.argsort(codes.astype(np.uint16), kind="stable")
        by_day = np.argsort((days - base).astype(np.uint16), kind="stable")
        by_code = np.argsort(codes[by_day].astype(np.uint16), kind="stable")
        return by_day[by_code]
    key = codes.astype(np.int64) * span + (days - base)
    return np.argsort(key, kind="stable")


def key_rows(symbol: pd.Series, dates: pd.Series, what: str, date_name: str) -> Keyed:
    codes, categories = symbol_codes(symbol, what)
    days, date_dtype = day_numbers(dates, what)
    order = sort_order(codes, days, len(categories)) if len(days) else None
    if order is not None:
        codes, days = codes[order], days[order]
    dup = np.flatnonzero((codes[1:] == codes[:-1]) & (days[1:] == days[:-1]))
    if dup.size:
        raise ValueError(
            f"{what} must have one row per (symbol, {date_name}); got {dup.size} duplicate "
            f"rows, e.g. {_describe(categories, codes[dup], days[dup])}"
        )
    return Keyed(codes, days, order, categories, date_dtype)


def in_order(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return values if order is None else values[order]


def segment_starts(*keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal consecutive keys (keys already sorted)."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(new)
