"""A ragged 30-year history of 210 symbols stored as month-like files, and row comparison:
what the block tests of every step share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.atomic_files import write_parquet

TICKERS = [f"T{i:04d}" for i in range(210)]
START, END = pd.Timestamp("1995-01-01"), pd.Timestamp("2025-01-01")
KEY = ["symbol", "date"]


def ragged_history(folder: Path) -> tuple[pd.DataFrame, list[Path]]:
    """Daily bars with late listings, delistings and holes, stored as one file per decade."""
    source = SamplePriceSource(seed=7, listing_rate=0.3, delisting_rate=0.3)
    bars = source.fetch(TICKERS, START, END).frame
    rng = np.random.default_rng(0)
    drop = np.zeros(len(bars), dtype=bool)
    starts = np.flatnonzero(
        np.r_[True, bars["symbol"].to_numpy()[1:] != bars["symbol"].to_numpy()[:-1]]
    )
    for lo in rng.choice(starts, 40, replace=False):  # a hole of 3..40 sessions in 40 symbols
        at = lo + rng.integers(300, 3000)
        drop[at : at + rng.integers(3, 40)] = True
    drop[rng.choice(len(bars), 500, replace=False)] = True  # and single missing days
    bars = bars[~drop].reset_index(drop=True)
    files = []
    for decade, rows in bars.groupby(bars["date"].dt.year // 10, sort=True).indices.items():
        path = folder / f"{decade}0s.parquet"
        part = bars.iloc[rows].sort_values(KEY)
        write_parquet(pa_table(part), path, row_group_rows=1024)
        files.append(path)
    return bars, files


def pa_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.sort_values(keys).reset_index(drop=True)
    out["symbol"] = out["symbol"].astype(str)
    return out


def same_rows(blocked: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same rows and columns: labels, dates, ints exact; floats within 1e-12 relative."""
    got, want = _sorted(blocked, keys), _sorted(expected, keys)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for name in got.columns:
        a, b = got[name].to_numpy(), want[name].to_numpy()
        if a.dtype.kind == "f":
            assert a.dtype == b.dtype, name
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)  # labels, dates, ints exact
