"""Daily rows numbered by their (symbol, W-FRI week) cell, in input order, never sorted.

Weekly bars are reductions of the daily rows of each cell. Numbering the cells straight
from the integer keys (code x weeks + week) lets the bars be scattered (`ufunc.at`) from
the rows where they lie: no argsort of the daily rows, and no gather of every column into
sorted order, which cost the weekly pass over half its time on date-major input (each
symbol's next row is a symbol count away, a page or more). Cells come out in (symbol, week)
order. When that grid would be much larger than the rows (few rows spread over many
symbols and weeks), cells are numbered by rank instead (`np.unique`, which sorts).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from memwise_assets.compute.series import halves, in_parallel

# 1970-01-02, day 1 since the epoch, was a Friday: week_end = day + (1 - day) mod 7.
_FRIDAY = 1
_WEEKDAYS = 7
# A grid up to this many cells per daily row is numbered directly (dense panels: 1/5).
_GRID_CELLS_PER_ROW = 2


def week_ends(days: np.ndarray) -> np.ndarray:
    return days + (_FRIDAY - days) % _WEEKDAYS


@dataclass(frozen=True)
class Cells:
    """The (symbol, week) cell of every daily row, cells in (symbol, week) order."""

    of_row: np.ndarray  # cell per daily row, input order (intp, as ufunc.at wants)
    codes: np.ndarray  # symbol code per cell
    weeks: np.ndarray  # W-FRI week_end (days since the epoch) per cell
    counts: np.ndarray  # daily rows per cell; 0 for grid cells no row falls in
    slots: np.ndarray  # (cells, 7): the row on each day of the week, Saturday first; -1: none
    duplicated: bool  # some symbol has two rows on one day
    first_day: int  # the first week's Saturday (days since the epoch)
    every_week: bool  # cells are every week of every symbol (else only those with rows)

    def __len__(self) -> int:
        return len(self.codes)

    def presence(self, n_codes: int) -> np.ndarray | None:
        """Symbol x calendar day (from `first_day`): has a row; None unless every week."""
        return (self.slots >= 0).reshape(n_codes, -1) if self.every_week else None


def week_cells(codes: np.ndarray, days: np.ndarray, n_codes: int) -> Cells:
    """Number the (code, W-FRI week) cell of each row; `days` int days since the epoch."""
    # Weeks run Saturday to Friday: counted from the first row's Saturday, a row's day
    # offset is week * 7 + weekday, so code * 7 * n_weeks + offset numbers (symbol, day)
    # pairs and its floor by 7 numbers (symbol, week) cells, both in (symbol, day) order.
    saturday = int(week_ends(np.array([days.min()]))[0]) - (_WEEKDAYS - 1)
    n_weeks = (int(days.max()) - saturday) // _WEEKDAYS + 1
    every_week = n_codes * n_weeks <= _GRID_CELLS_PER_ROW * len(days)
    of_row = np.empty(len(days), dtype=np.intp)
    slots = np.full(n_codes * n_weeks * _WEEKDAYS, -1, dtype=np.int32) if every_week else None

    def number(part: slice) -> None:
        # In place, half the rows per thread: every fresh daily-length array costs its faults.
        cells = of_row[part]
        np.copyto(cells, codes[part])
        cells *= _WEEKDAYS * n_weeks
        cells += days[part]
        cells -= saturday
        if slots is not None:
            slots[cells] = np.arange(part.start, part.stop, dtype=np.int32)
            np.floor_divide(cells, _WEEKDAYS, out=cells)

    in_parallel([partial(number, part) for part in halves(len(days))], len(days))
    if slots is not None:
        cell_codes, cell_weeks = np.divmod(np.arange(n_codes * n_weeks), n_weeks)
    else:
        weekday = of_row % _WEEKDAYS
        np.floor_divide(of_row, _WEEKDAYS, out=of_row)
        found, of_row = np.unique(of_row, return_inverse=True)
        cell_codes, cell_weeks = np.divmod(found, n_weeks)
        weekday += of_row * _WEEKDAYS
        slots = np.full(len(cell_codes) * _WEEKDAYS, -1, dtype=np.int32)
        slots[weekday] = np.arange(len(days), dtype=np.int32)
        del weekday
    # Two rows on one (symbol, day) share a slot, whichever thread wrote it last: fewer slots
    # filled than rows, and the caller refuses the input.
    duplicated = int(np.count_nonzero(slots >= 0)) < len(days)
    counts = np.bincount(of_row, minlength=len(cell_codes))
    weeks = saturday + (_WEEKDAYS - 1) + _WEEKDAYS * cell_weeks
    return Cells(
        of_row, cell_codes.astype(np.int32), weeks, counts,
        slots.reshape(-1, _WEEKDAYS), duplicated, saturday, every_week,
    )  # fmt: skip


def first_at(cells: Cells, values: np.ndarray, *, last: bool) -> np.ndarray:
    """Per cell, the value on its first (or last) day with a value (NaN when none)."""
    slots = cells.slots[:, ::-1] if last else cells.slots
    if not np.isnan(values).any():
        day = np.argmax(slots >= 0, axis=1)
        rows = slots[np.arange(len(slots)), day]
        out = np.take(values, rows, mode="clip")
        out[rows < 0] = np.nan
        return out
    # Some values missing: look at every slot's value (7 per cell).
    grid = np.take(values, slots, mode="clip")
    grid[slots < 0] = np.nan
    day = np.argmax(~np.isnan(grid), axis=1)
    return grid[np.arange(len(grid)), day]


def scatter(ufunc: np.ufunc, cells: Cells, values: np.ndarray, start: float) -> np.ndarray:
    """ufunc-reduce the rows of each cell, starting from `start`."""
    out = np.full(len(cells), start)
    ufunc.at(out, cells.of_row, values)
    return out
