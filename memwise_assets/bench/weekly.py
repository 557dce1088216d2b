"""Weekly bars + features + attach: memwise's one pass against a per-symbol process pool,
polars `group_by_dynamic` (ours and the shared peer) and plain pandas, on synthetic bars and on
the real price CSVs when present, each timed cold (a fresh process per measurement, as a
Dagster step runs) and warm.

The per-symbol functions here are also the straightforward pandas reference the tests
compare memwise against.
"""

from __future__ import annotations

import ctypes
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from memwise_assets.bench.harness import BenchRow, measure
from memwise_assets.bench.weekly_cold import IMPLS, measure_cold
from memwise_assets.bench.weekly_peers import pandas_peer, shared_polars_peer
from memwise_assets.bench.weekly_pipelines import memwise_pipeline, polars_bars, polars_pipeline
from memwise_assets.compute.weekly.features import (
    FEATURE_COLUMNS,
    attach_weekly_features,
    weekly_bars,
    weekly_features,
)

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

_OHLCV = ["open", "high", "low", "close", "volume"]
_WARM = "best of 2 warm runs, peak: a run after heap trim"
# Fresh processes per implementation in the cold table, taken in turns; the best counts
# (other people's load on the shared machine only ever adds time).
_COLD_RUNS = 3


def synthetic_daily(n_symbols: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    """Seeded random-walk daily bars on business days, date-major like a daily partition."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_days)
    symbols = pd.Categorical([f"S{i:05d}" for i in range(n_symbols)])
    steps = rng.normal(0.0003, 0.015, size=(n_days, n_symbols))
    close = 50.0 * np.exp(np.cumsum(steps, axis=0))
    spread = np.abs(rng.normal(0.0, 0.01, size=(n_days, n_symbols)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, size=(n_days, n_symbols)))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.lognormal(13.0, 0.5, size=(n_days, n_symbols)).round()
    return pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(
                np.tile(np.arange(n_symbols), n_days), categories=symbols.categories
            ),
            "date": np.repeat(dates.to_numpy(), n_symbols),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "adj_close": close.ravel(),
            "volume": volume.ravel(),
        }
    )


def load_price_csvs(folder: Path) -> pd.DataFrame:
    """The per-ticker CSVs (Date,Open,High,Low,Close,Adj Close,Volume,Name) as long bars."""
    frames = []
    for path in sorted(folder.glob("*.csv")):
        raw = pd.read_csv(path, parse_dates=["Date"])
        # A few files repeat a date; the bench keeps the first row of each.
        frames.append(raw.drop_duplicates("Date"))
    raw = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame(
        {
            "symbol": raw["Name"].astype("category"),
            "date": raw["Date"],
            "open": raw["Open"].astype(np.float64),
            "high": raw["High"].astype(np.float64),
            "low": raw["Low"].astype(np.float64),
            "close": raw["Close"].astype(np.float64),
            "adj_close": raw["Adj Close"].astype(np.float64),
            "volume": raw["Volume"].astype(np.float64),
        }
    )
    return out[out["close"] > 0].reset_index(drop=True)


def reference_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekly bars of one symbol with pandas `resample("W-FRI")`, empty weeks dropped."""
    prices = frame.set_index("date").sort_index()[_OHLCV].astype(np.float64)
    weeks = prices.resample("W-FRI")
    bars = pd.DataFrame(
        {
            "open": weeks["open"].first(),
            "high": weeks["high"].max(),
            "low": weeks["low"].min(),
            "close": weeks["close"].last(),
            "volume": weeks["volume"].sum(),
            "n_days": weeks["close"].count(),
        }
    )
    bars = bars[bars["n_days"] > 0]
    return bars.rename_axis("week_end").reset_index()


def reference_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The feature definitions as plain pandas formulas over one symbol's weekly rows."""
    close, high, low, volume = bars["close"], bars["high"], bars["low"], bars["volume"]
    out = pd.DataFrame({"week_end": bars["week_end"]})
    for k in (1, 4, 13, 26, 52):
        out[f"ret_{k}w"] = close / close.shift(k) - 1
    out["vol_13w"] = np.log(close / close.shift(1)).rolling(13, min_periods=13).std()
    d = close.diff()
    ag = d.clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    al = (-d).clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    rsi = 100 - 100 / (1 + ag / al)
    out["rsi_14w"] = rsi.mask((al == 0) & ag.notna(), 100.0)
    prev_close = close.shift(1)
    true_range = pd.concat([high, prev_close], axis=1).max(axis=1) - pd.concat(
        [low, prev_close], axis=1
    ).min(axis=1)
    out["atr_14w"] = true_range.rolling(14, min_periods=14).mean() / close
    out["range_1w"] = (high - low) / close
    vmean = volume.rolling(13, 13).mean()
    out["volume_z_13w"] = (volume - vmean) / volume.rolling(13, 13).std()
    out["dist_52w_high"] = close / high.rolling(52, min_periods=52).max() - 1
    out["sma_ratio_4_13"] = close.rolling(4, 4).mean() / close.rolling(13, 13).mean() - 1
    return out


def reference_symbol(frame: pd.DataFrame) -> pd.DataFrame:
    """One symbol's daily rows (sorted by date) with its weekly features attached."""
    daily = frame.sort_values("date")
    features = reference_features(reference_bars(daily))
    return pd.merge_asof(
        daily, features, left_on="date", right_on="week_end", direction="backward"
    ).drop(columns="week_end")


def per_symbol_pool(daily: pd.DataFrame) -> pd.DataFrame:
    """The common baseline: split per symbol, resample and attach each in a loky pool."""
    from joblib import Parallel, delayed

    groups = {str(s): g for s, g in daily.groupby("symbol", observed=True, sort=False)}
    parts = Parallel(n_jobs=os.cpu_count() or 1, backend="loky")(
        delayed(reference_symbol)(g) for g in groups.values()
    )
    return pd.concat(parts, ignore_index=True)


def _agreement(
    ours: pd.DataFrame, theirs: pd.DataFrame, attached: pd.DataFrame, polars_out: pl.DataFrame
) -> str:
    """How far polars is from memwise: bars equal, worst relative feature difference."""
    ours = ours.assign(symbol=ours["symbol"].astype(str))
    theirs = theirs.assign(symbol=theirs["symbol"].astype(str))
    ours = ours.sort_values(["symbol", "week_end"], ignore_index=True)
    theirs = theirs.sort_values(["symbol", "week_end"], ignore_index=True)[list(ours.columns)]
    same_bars = len(ours) == len(theirs) and all(
        np.array_equal(ours[c].to_numpy(), theirs[c].to_numpy()) for c in ours.columns
    )
    gap = _feature_gap(attached, {c: polars_out[c].to_numpy() for c in FEATURE_COLUMNS})
    return f"bars equal memwise: {same_bars}; {gap}"


def _feature_gap(ours: pd.DataFrame, theirs: dict[str, np.ndarray], vs: str = "") -> str:
    """The worst relative difference of the features, row for row (or where NaN differs)."""
    worst = 0.0
    for c in FEATURE_COLUMNS:
        a = ours[c].to_numpy(dtype=np.float64)
        b = np.asarray(theirs[c], dtype=np.float64)
        if (np.isnan(a) != np.isnan(b)).any():
            return f"{c} NaN pattern differs"
        both = ~np.isnan(a)
        scale = np.maximum(np.abs(a[both]), 1e-3)
        worst = max(worst, float(np.max(np.abs(a[both] - b[both]) / scale, initial=0.0)))
    return f"features max rel diff{vs} {worst:.1e}"


def _cases(data_dir: Path | None, quick: bool) -> list[tuple[str, pd.DataFrame]]:
    n_symbols = 50 if quick else 1000
    frames = [(f"weekly-{n_symbols}x2520", synthetic_daily(n_symbols, 2520, seed=7))]
    prices = data_dir / "prices" if data_dir is not None else None
    if prices is not None and prices.is_dir() and any(prices.glob("*.csv")):
        real = load_price_csvs(prices)
        if quick:
            keep = real["symbol"].cat.categories[:10]
            real = real[real["symbol"].isin(keep)].reset_index(drop=True)
            real["symbol"] = real["symbol"].cat.remove_unused_categories()
        frames.append(("weekly-real-csv", real))
    else:
        log.info("weekly-real-csv skipped: no CSVs under %s", prices)
    return frames


def _row(
    case: str, impl: str, daily: pd.DataFrame, seconds: float, peak: float, note: str
) -> BenchRow:
    n_symbols = daily["symbol"].nunique()
    rows = len(daily)
    return BenchRow(
        case=case, impl=impl, items=float(n_symbols), unit="symbols", seconds=seconds,
        peak_mb=peak,
        note=f"{rows:,} daily rows, {rows / seconds:,.0f} rows/s; {note}".rstrip("; "),
    )  # fmt: skip


def _release_heap() -> None:
    """Hand freed heap pages back to the OS, so a warmed-up run's peak is not understated."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        # Not glibc: the peak may then read low after the warm-up; nothing else changes.
        pass


def _warm_measure(fn: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """Seconds of a warm run, and the peak of a run after the heap was handed back.

    First touches of fresh pages cost this kind of VM more than the work itself, and a
    warm heap is what a long-lived worker sees, so the time comes from warm runs; but a
    warm heap hides memory from the peak, so the peak comes from a last, trimmed run.
    """
    fn(*args)
    # Best of two: the machine is shared, and other people's load only ever adds time.
    seconds = min(measure(fn, *args)[1] for _ in range(2))
    _release_heap()
    result, _, peak = measure(fn, *args)
    return result, seconds, peak


def _cold_rows(case: str, daily: pd.DataFrame, runs: int, input_mb: float) -> list[BenchRow]:
    """Every implementation in fresh processes, taken in turns, best of `runs` each."""
    with tempfile.TemporaryDirectory(prefix="memwise-bench-") as tmp:
        path = Path(tmp) / "daily.parquet"
        daily.to_parquet(path)
        figures: dict[str, list[tuple[float, float]]] = {impl: [] for impl in IMPLS}
        for _ in range(runs):
            for impl in IMPLS:
                figures[impl].append(measure_cold(impl, path))
    rows = []
    for impl, found in figures.items():
        seconds = min(s for s, _ in found)
        peak = max(p for _, p in found)
        note = f"best of {runs} fresh processes"
        if impl == "memwise":
            note = f"input {input_mb:.0f} MB, peak/input {peak / input_mb:.2f}x; {note}"
        rows.append(_row(f"{case} cold", impl, daily, seconds, peak, note))
    return rows


def _peer_gap(attached: pd.DataFrame, theirs: pd.DataFrame) -> str:
    """Worst relative feature difference of a peer's attached rows against memwise's."""
    keys = ["symbol", "date"]
    ours = attached.assign(symbol=attached["symbol"].astype(str))
    other = theirs.assign(
        symbol=theirs["symbol"].astype(str), date=theirs["date"].astype(ours["date"].dtype)
    )
    merged = ours.merge(other[keys + list(FEATURE_COLUMNS)], on=keys, suffixes=("", "_p"))
    peer = {c: merged[f"{c}_p"].to_numpy() for c in FEATURE_COLUMNS}
    return _feature_gap(merged, peer, vs=" vs memwise")


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """memwise and its peers on each weekly case, cold (fresh processes) then warm."""
    import polars as pl

    out: list[BenchRow] = []
    for case, daily in _cases(data_dir, quick):
        input_mb = daily.memory_usage(deep=True).sum() / 2**20
        out.extend(_cold_rows(case, daily, 1 if quick else _COLD_RUNS, input_mb))
        warm = f"{case} warm"
        attached, seconds, peak = _warm_measure(memwise_pipeline, daily)
        note = f"input {input_mb:.0f} MB, peak/input {peak / input_mb:.2f}x; {_WARM}"
        out.append(_row(warm, "memwise", daily, seconds, peak, note))
        # The peers' formulas know no sessions: compare them with memwise's formulas alone.
        formulas = attach_weekly_features(daily, weekly_features(daily), FEATURE_COLUMNS)

        (_, shared), seconds, peak = _warm_measure(shared_polars_peer, daily)
        note = _peer_gap(formulas, shared.to_pandas()) + f"; {_WARM}"
        out.append(_row(warm, "polars (shared peer)", daily, seconds, peak, note))
        del shared

        frame = pl.from_pandas(daily.drop(columns=["adj_close"], errors="ignore"))
        result, seconds, peak = _warm_measure(polars_pipeline, frame)
        note = _agreement(weekly_bars(daily), polars_bars(frame).to_pandas(), formulas, result)
        out.append(_row(warm, "polars group_by_dynamic", daily, seconds, peak, f"{note}; {_WARM}"))
        del result, frame

        (_, theirs), seconds, peak = _warm_measure(pandas_peer, daily)
        note = _peer_gap(formulas, theirs) + f"; {_WARM}"
        out.append(_row(warm, "pandas groupby/merge_asof", daily, seconds, peak, note))
        del theirs

        sample = daily[daily["symbol"].isin(daily["symbol"].cat.categories[:4])]
        # Warm the pool's workers on a few symbols, not the whole (slow) case.
        per_symbol_pool(sample)
        _release_heap()
        _, seconds, peak = measure(per_symbol_pool, daily)
        impl = f"per-symbol pool (loky, {os.cpu_count()} workers)"
        out.append(_row(warm, impl, daily, seconds, peak, ""))
        del attached, formulas
    return out
