"""Benchmark `labels-10M`: weighted triple-barrier labels on 10 million synthetic bars.

memwise (labels + weights + uniqueness, chunked) against the per-event loop that the
open-source AFML implementations use (a pandas slice of each event's path, then per-event
concurrency, uniqueness and attribution), timed on a subsample and extrapolated.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from memwise_assets.bench.harness import BenchRow, measure, size_label
from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    triple_barrier_labels,
)
from memwise_assets.memory.probe import current_rss_mb

log = logging.getLogger(__name__)

MODE = LabelMode("base", 1.0, 1.0, 20)


def synthetic_bars(n_symbols: int, n_bars: int, seed: int = 42) -> pd.DataFrame:
    """Seeded random-walk daily closes, grouped by symbol and time-ordered."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.005, 0.03, n_symbols)[:, None]
    steps = rng.standard_normal((n_symbols, n_bars)) * sigma
    close = (100.0 * np.exp(np.cumsum(steps, axis=1))).reshape(-1)
    del steps
    names = [f"S{i:04d}" for i in range(n_symbols)]
    codes = np.repeat(np.arange(n_symbols, dtype=np.int16), n_bars)
    dates = pd.date_range("1990-01-01", periods=n_bars, freq="D").to_numpy()
    return pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(codes, names),
            "date": np.tile(dates, n_symbols),
            "close": close,
        }
    )


def per_event_loop(bars: pd.DataFrame, mode: LabelMode = MODE) -> pd.DataFrame:
    """AFML-style labels and weights: Python loops over events with pandas slices."""
    out = []
    for _, seg in bars.groupby("symbol", observed=True, sort=False):
        close = seg.set_index("date")["close"]
        ret = np.log(close).diff()
        vol = ret.ewm(span=100, min_periods=20).std()
        exits = {}
        labels = {}
        for i, t in enumerate(close.index):
            if not vol.iloc[i] > 0:
                continue
            path = close.iloc[i + 1 : i + 1 + mode.horizon] / close.iloc[i] - 1.0
            touch_up = path[path > mode.pt * vol.iloc[i]].index.min()
            touch_dn = path[path < -mode.sl * vol.iloc[i]].index.min()
            first = min((d for d in (touch_up, touch_dn) if pd.notna(d)), default=None)
            if first is None:
                if len(path) < mode.horizon:
                    continue
                first = path.index[-1]
            exits[t] = first
            labels[t] = 1 if first == touch_up else (-1 if first == touch_dn else 0)
        count = pd.Series(0, index=close.index)
        for t, end in exits.items():
            count.loc[t:end] += 1
            count.loc[t] -= 1  # the span starts the bar after the event
        uniq, attr = {}, {}
        for t, end in exits.items():
            span = count.loc[t:end].iloc[1:]
            uniq[t] = (1.0 / span).mean()
            attr[t] = abs((ret.loc[span.index] / span).sum())
        attr_s = pd.Series(attr, dtype=float)
        weight = attr_s * len(attr_s) / attr_s.sum()
        out.append(
            pd.DataFrame({"label": pd.Series(labels), "uniq": pd.Series(uniq), "weight": weight})
        )
    return pd.concat(out)


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """labels-<rows>: memwise first, then the per-event loop (subsample, extrapolated)."""
    n_symbols, n_bars = (100, 1_000) if quick else (1_000, 10_000)
    n = n_symbols * n_bars
    case = f"labels-{size_label(n)}"
    bars = synthetic_bars(n_symbols, n_bars)
    input_mb = bars.memory_usage(deep=True).sum() / 2**20
    gc.collect()
    base_mb = current_rss_mb()
    config = LabelingConfig(modes=(MODE,))
    cpu0 = time.process_time()
    out, seconds, increase_mb = measure(triple_barrier_labels, bars, config)
    # Wall time suffers on a shared machine; CPU time says what the code itself costs.
    cpu_seconds = time.process_time() - cpu0
    events = int((out["exit_base"] > 0).sum())
    del out
    gc.collect()
    rows = [
        BenchRow(
            case=case,
            impl="memwise",
            items=n,
            unit="rows",
            seconds=seconds,
            peak_mb=base_mb + increase_mb,
            note=(
                f"{n_symbols} symbols x {n_bars} bars, 1 mode, horizon {MODE.horizon}; "
                f"labels+weights+uniqueness, chunk_rows {config.chunk_rows}; {events} events; "
                f"peak is the whole process RSS incl. input {input_mb:.0f} MB "
                f"(RSS before the call {base_mb:.0f} MB, increase {increase_mb:.0f} MB); "
                f"CPU {cpu_seconds:.2f} s = {n / max(cpu_seconds, 1e-9) / 1e6:.2f}M rows per CPU-s"
            ),
        )
    ]
    sub_symbols, sub_bars = (2, 300) if quick else (2, 1_000)
    sub = (
        bars[bars["symbol"].cat.codes < sub_symbols].groupby("symbol", observed=True).head(sub_bars)
    )
    del bars
    gc.collect()
    _, sub_seconds, sub_mb = measure(per_event_loop, sub)
    rows.append(
        BenchRow(
            case=case,
            impl="per-event loop (AFML-style)",
            items=n,
            unit="rows",
            seconds=sub_seconds * n / len(sub),
            peak_mb=sub_mb,
            note=(
                f"timed on a {len(sub)}-row subsample ({sub_symbols} symbols x {sub_bars} "
                f"bars) in {sub_seconds:.2f} s and extrapolated linearly to {n} rows; "
                "peak MB is the subsample's increase"
            ),
        )
    )
    log.info("labels bench: %s", [r.as_dict() for r in rows])
    return rows
