"""Cold figures of the weekly case: each measurement is the first call in a fresh process.

Every step of Dagster's multiprocess executor is a fresh process, so its first call pays for
fresh pages and cold caches that a warm loop hides. `measure_cold` runs
`python -m memwise_assets.bench.weekly_cold IMPL FRAME.parquet`, which loads the frame and the
implementation's libraries (not timed), times one call and prints its seconds and peak as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.bench.harness import measure


def _memwise(daily: pd.DataFrame) -> Any:
    from memwise_assets.bench.weekly_pipelines import memwise_pipeline

    return memwise_pipeline(daily)


def _shared_polars(daily: pd.DataFrame) -> Any:
    from memwise_assets.bench.weekly_peers import shared_polars_peer

    return shared_polars_peer(daily)


def _bench_polars(daily: pd.DataFrame) -> Any:
    import polars as pl

    from memwise_assets.bench.weekly_pipelines import polars_pipeline

    return polars_pipeline(pl.from_pandas(daily.drop(columns=["adj_close"], errors="ignore")))


def _pandas(daily: pd.DataFrame) -> Any:
    from memwise_assets.bench.weekly_peers import pandas_peer

    return pandas_peer(daily)


IMPLS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "memwise": _memwise,
    "polars (shared peer)": _shared_polars,
    "polars group_by_dynamic": _bench_polars,
    "pandas groupby/merge_asof": _pandas,
}


def measure_cold(impl: str, frame_path: Path, timeout_s: float = 900.0) -> tuple[float, float]:
    """(seconds, peak MB above the start) of one call of `impl` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "memwise_assets.bench.weekly_cold", impl, str(frame_path)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold run of {impl} failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["seconds"]), float(figures["peak_mb"])


def main(argv: list[str]) -> int:
    impl, path = argv
    daily = pd.read_parquet(path)
    # Libraries load before the timed call, as a step imports them before it runs: polars
    # for its peers; for memwise the NYSE calendar (exchange_calendars builds XNYS once per
    # process, ~0.2 s, whatever the frame), which the prices assets pay for as well.
    if impl == "memwise":
        from memwise_assets.compute.prices import trading_days

        trading_days("2000-01-03", "2000-01-04")
    elif impl != "pandas groupby/merge_asof":
        import polars  # noqa: F401
    import memwise_assets.bench.weekly_peers  # noqa: F401
    import memwise_assets.bench.weekly_pipelines  # noqa: F401

    _, seconds, peak = measure(IMPLS[impl], daily)
    sys.stdout.write(json.dumps({"seconds": seconds, "peak_mb": peak}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
