"""Record real step peaks of the four domains at varied input sizes, for the estimator replay.

`python -m memwise_assets.bench.estimator_record [SEC_FOLDER]` runs each domain's compute
function at a ladder of sizes in this one process (heap trimmed between runs, peak from
the kernel high-water mark), with the input MB and the static formula its asset uses,
and writes `memwise_assets/data/estimator/recorded_steps.json`. About two minutes.
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from memwise_assets.bench.estimator import RECORDED
from memwise_assets.bench.harness import measure
from memwise_assets.bench.labels import synthetic_bars
from memwise_assets.bench.weekly import synthetic_daily
from memwise_assets.compute.labels.triple_barrier import LabelingConfig, triple_barrier_labels
from memwise_assets.compute.prices.sample import SamplePriceSource
from memwise_assets.compute.weekly.features import weekly_features

_MB = 1024.0 * 1024.0
_PRICE_ROW_BYTES = 8 * 8 * 6  # the daily_bars asset's working bytes per row


def _frame_mb(frame: Any) -> float:
    return float(frame.memory_usage(deep=True).sum()) / _MB


def _prices() -> Iterator[tuple[float, float, Callable[[], Any]]]:
    source = SamplePriceSource(seed=0)
    for n_tickers in (5, 20, 60, 150):
        for years in (1, 4, 10):
            tickers = [f"T{i:03d}" for i in range(n_tickers)]
            start, end = datetime(2024 - years, 1, 1), datetime(2024, 1, 1)
            input_mb = n_tickers * 252 * years * _PRICE_ROW_BYTES / 1e6
            yield (
                input_mb,
                100 + 4 * input_mb,
                lambda t=tickers, s=start, e=end: source.fetch(t, s, e),
            )


def _weekly() -> Iterator[tuple[float, float, Callable[[], Any]]]:
    for n_symbols in (20, 100, 300):
        for n_days in (500, 1500, 3000):
            daily = synthetic_daily(n_symbols, n_days, seed=n_symbols + n_days)
            mb = _frame_mb(daily)
            yield mb, 64 + 3 * mb, lambda d=daily: weekly_features(d)


def _labels() -> Iterator[tuple[float, float, Callable[[], Any]]]:
    labeling = LabelingConfig()
    chunk_mb = labeling.chunk_rows * 64 * len(labeling.modes) / _MB
    for n_symbols in (10, 50, 200):
        for n_bars in (1000, 3000, 8000):
            bars = synthetic_bars(n_symbols, n_bars, seed=n_symbols * n_bars)
            mb = _frame_mb(bars)
            yield mb, 64 + 2 * mb + chunk_mb, lambda b=bars: triple_barrier_labels(b, labeling)


def _filings(folder: Path | None) -> Iterator[tuple[float, float, Callable[[], Any]]]:
    from memwise_assets.compute.filings import FilingError, filing_sections, load_nlp

    nlp = load_nlp()
    packaged = Path(__file__).resolve().parents[1] / "data" / "filings"
    files = sorted((folder or packaged).glob("*.htm")) + sorted((folder or packaged).glob("*.txt"))

    def run(path: Path) -> Any:
        try:
            return filing_sections(path, nlp=nlp)
        except FilingError:
            return None

    for path in files:
        mb = path.stat().st_size / _MB
        yield mb, 12 * mb + 500, lambda p=path: run(p)


def record(sec_folder: Path | None = None, repeats: int = 2) -> dict[str, list[dict[str, float]]]:
    """Peak MB above start, input MB and static MB of each domain's step at each size."""
    domains = {
        "prices": _prices,
        "weekly": _weekly,
        "labels": _labels,
        "filings": lambda: _filings(sec_folder),
    }
    recorded: dict[str, list[dict[str, float]]] = {}
    for domain, cases in domains.items():
        points = recorded.setdefault(domain, [])
        for input_mb, static_mb, fn in cases():
            for _ in range(repeats):
                ctypes.CDLL("libc.so.6").malloc_trim(0)
                _, seconds, peak = measure(fn)
                points.append(
                    {
                        "input_mb": round(input_mb, 4),
                        "peak_mb": round(peak, 3),
                        "static_mb": round(static_mb, 3),
                        "seconds": round(seconds, 4),
                    }
                )
    return recorded


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    data = record(folder)
    RECORDED.parent.mkdir(parents=True, exist_ok=True)
    RECORDED.write_text(json.dumps(data, indent=1) + "\n")
    print({domain: len(points) for domain, points in data.items()})
