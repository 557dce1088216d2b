"""Benchmark `prices-66x10y`: the sample and CSV price sources against a naive pandas read."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from memwise_assets.bench.harness import BenchRow, measure
from memwise_assets.compute.prices import DEFAULT_TICKERS, CsvPriceSource, SamplePriceSource

REAL_CASE = "prices-csv-real"
START = pd.Timestamp("2015-01-01")
YAHOO_COLUMNS = {
    "date": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adj_close": "Adj Close",
    "volume": "Volume",
}


def write_yahoo_folder(bars: pd.DataFrame, folder: Path) -> Path:
    """One `<TICKER>.csv` per symbol in the Yahoo export layout (with a Name column)."""
    folder.mkdir(parents=True, exist_ok=True)
    for symbol, part in bars.groupby("symbol", observed=True):
        out = part.drop(columns="symbol").rename(columns=YAHOO_COLUMNS)
        out["Date"] = out["Date"].dt.strftime("%Y-%m-%d")
        out["Name"] = symbol
        out.to_csv(folder / f"{symbol}.csv", index=False)
    return folder


def naive_read(folder: Path, tickers: list[str]) -> pd.DataFrame:
    """The peer: `pd.read_csv` per file with default dtypes, then one `pd.concat`."""
    frames = [pd.read_csv(folder / f"{t}.csv") for t in tickers if (folder / f"{t}.csv").exists()]
    return pd.concat(frames, ignore_index=True)


def _csv_rows(case: str, folder: Path, tickers: list[str], start: object, end: object, note: str):
    src = CsvPriceSource(folder)
    res, secs, peak = measure(src.fetch, tickers, start, end)
    peer, peer_secs, peer_peak = measure(naive_read, folder, tickers)
    ratio = peer_secs / secs if secs > 0 else float("inf")
    issues = ", ".join(f"{k}={v}" for k, v in res.issue_totals().items()) or "no faults"
    return [
        BenchRow(case, "memwise-csv", len(res.frame), "rows", secs, peak, f"{note}; {issues}"),
        BenchRow(
            case,
            "pandas-naive-csv",
            len(peer),
            "rows",
            peer_secs,
            peer_peak,
            f"read_csv+concat, no checks; memwise/peer time {1 / ratio:.2f}x",
        ),
    ]


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """66 tickers x 10 years (1 year when quick) from the sample source and a CSV folder."""
    years = 1 if quick else 10
    tickers = list(DEFAULT_TICKERS)
    end = START + pd.DateOffset(years=years)
    case = f"prices-{len(tickers)}x{years}y"
    res, secs, peak = measure(SamplePriceSource(seed=0).fetch, tickers, START, end)
    note = f"{len(tickers)} tickers x {years}y, paths simulated from 1971"
    rows = [BenchRow(case, "memwise-sample", len(res.frame), "rows", secs, peak, note)]
    with tempfile.TemporaryDirectory(prefix="memwise-prices-") as tmp:
        folder = write_yahoo_folder(res.frame, Path(tmp) / "prices")
        del res
        rows += _csv_rows(case, folder, tickers, START, end, "sample written as Yahoo CSVs")
    real = Path(data_dir) / "prices" if data_dir is not None else None
    if real is not None and real.is_dir():
        present = [t for t in tickers if (real / f"{t}.csv").exists()]
        rows += _csv_rows(
            REAL_CASE, real, present, "2012-12-01", "2018-01-01", f"{len(present)} real Yahoo files"
        )
    return rows
