"""What every benchmark case returns, and how one implementation is measured.

Each `memwise_assets.bench.<domain>` module exposes
`run(data_dir: Path | None, quick: bool) -> list[BenchRow]`: memwise first, then its
peers for the same case, all measured in this one process so the ratios are fair.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from memwise_assets.memory.probe import current_rss_mb, peak_rss_mb, reset_peak, tree_rss_probe


@dataclass(frozen=True)
class BenchRow:
    """One implementation's figures on one case."""

    case: str
    impl: str
    items: float
    unit: str
    seconds: float
    peak_mb: float
    note: str = ""
    # Figures a case's own table shows beyond these (JSON-ready).
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput}


def size_label(count: float) -> str:
    """A count as case names carry it: 100000 -> "100k", 10_000_000 -> "10M", 2520 -> "2520"."""
    for factor, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if count >= factor and count % (factor // 10) == 0:
            return f"{count / factor:g}{suffix}"
    return f"{count:g}"


def measure(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """Run `fn` once; return (result, seconds, peak MB above the RSS at the start).

    The peak is the kernel high-water mark of this process (reset first) or, when work
    runs in child processes, the sampled RSS of the process tree, whichever is higher.
    """
    gc.collect()
    start_rss = current_rss_mb()
    reset_peak()
    sampled = [start_rss]
    stop = threading.Event()
    # statm reads, children re-listed each second: a full /proc scan per sample would
    # cost the timed code ~10 % of a core.
    probe = tree_rss_probe()

    def sample() -> None:
        while not stop.wait(0.02):
            sampled.append(probe())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    finally:
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
    peak = max(peak_rss_mb(), max(sampled))
    return result, seconds, max(0.0, peak - start_rss)
