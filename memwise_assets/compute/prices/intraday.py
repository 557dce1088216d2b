"""Intraday bar CSVs (minute bars, or mlfinlab-style tick / volume / dollar bars) as one table.

Two layouts are read: `timestamp,open,high,low,close,volume` (vendor minute bars) and
`date_time,open,high,low,close,cum_vol,...` (mlfinlab bars, where `cum_vol` is the volume
of the bar). The symbol is the file name up to its first `_` (`ES_dollar_bars.csv` -> ES).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

COLUMNS = ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
_TIME_NAMES = ("timestamp", "date_time")
_VOLUME_NAMES = ("volume", "cum_vol")
_PRICES = ("open", "high", "low", "close")


def _read_one(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name}: expected a CSV of bars, could not parse it: {exc}") from exc
    time_col = next((c for c in _TIME_NAMES if c in raw.columns), None)
    volume_col = next((c for c in _VOLUME_NAMES if c in raw.columns), None)
    missing = [c for c in _PRICES if c not in raw.columns]
    if time_col is None or volume_col is None or missing:
        raise ValueError(
            f"{path.name}: expected columns timestamp|date_time, open, high, low, close, "
            f"volume|cum_vol; got {list(raw.columns)}"
        )
    if raw.empty:
        raise ValueError(f"{path.name}: expected bars, got a header only")
    stamps = pd.to_datetime(raw[time_col], errors="coerce")
    prices = raw[list(_PRICES)].apply(pd.to_numeric, errors="coerce")
    volume = pd.to_numeric(raw[volume_col], errors="coerce").astype(np.float64)
    # Infinite prices or volumes are refused like missing ones: never stored.
    finite = np.isfinite(prices.to_numpy(dtype=np.float64)).all(axis=1)
    bad = stamps.isna().to_numpy() | ~finite | np.isinf(volume.to_numpy())
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()  # +2: header, 1-based
        raise ValueError(
            f"{path.name}: expected a time, four finite prices and a finite or empty volume "
            f"on every line, got {int(bad.sum())} bad lines, e.g. lines {rows}"
        )
    return pd.DataFrame(
        {
            "timestamp": stamps,
            **{c: prices[c].astype(np.float64) for c in _PRICES},
            "volume": volume,
        }
    )


def read_intraday_bars(folder: str | Path, pattern: str = "*.csv") -> pd.DataFrame:
    """All bar files in `folder` matching `pattern`, as symbol, timestamp, OHLC, volume."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"read_intraday_bars: expected a folder, got {folder}")
    paths = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not paths:
        raise ValueError(f"read_intraday_bars: no file in {folder} matches {pattern!r}")
    by_symbol: dict[str, Path] = {}
    for path in paths:
        symbol = path.name.split("_", 1)[0].split(".", 1)[0]
        if symbol in by_symbol:
            # Two bar types of one instrument would interleave as one series.
            raise ValueError(
                f"read_intraday_bars: {by_symbol[symbol].name} and {path.name} are both "
                f"symbol {symbol}; narrow the pattern (e.g. '*_dollar_bars.csv')"
            )
        by_symbol[symbol] = path
    frames = []
    for symbol, path in by_symbol.items():
        bars = _read_one(path)
        bars.insert(0, "symbol", symbol)
        log.debug("read %d bars of %s from %s", len(bars), symbol, path.name)
        frames.append(bars)
    out = pd.concat(frames, ignore_index=True)
    out["symbol"] = out["symbol"].astype(pd.CategoricalDtype(sorted(by_symbol)))
    return out[COLUMNS]
