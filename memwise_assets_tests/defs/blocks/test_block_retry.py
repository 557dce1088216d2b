"""A block step over its budget while the IO manager pulls its blocks is retried with more
room, exactly as a step that overruns inside its own body."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.prices import trading_days
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.weekly.assets import weekly_features
from memwise_assets_tests.builders.stored_assets import stored_asset


@stored_asset("daily_bars")
def some_daily_bars() -> pd.DataFrame:
    """40 symbols x 4 years: enough rows for a few MB of blocks."""
    days = trading_days("2020-01-01", "2024-01-01")
    rng = np.random.default_rng(1)
    frames = []
    for i in range(40):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"S{i:02d}",
                    "date": days,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).astype({"symbol": "category"})


def test_an_overrun_inside_the_blocks_becomes_a_memory_retry(tmp_path) -> None:
    home = tmp_path / "memwise"
    resources = {
        "memory": MemoryResource(
            home_dir=str(home), limits_mb={"weekly": 0.01}, monitor_interval_s=0.005
        ),
        "io_manager": ParquetIOManager(base_dir=str(home / "data")),
    }
    result = dg.materialize(
        [some_daily_bars, weekly_features], resources=resources, raise_on_error=False
    )
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries, "the overrun in the IO manager's pull was not turned into a memory retry"
    assert "MemoryLimitExceeded" in str(retries[0].event_specific_data.error)
