"""A code location for the cluster's fault tests: one step that holds a reservation a while.

(No `from __future__ import annotations`: Dagster resolves the config class from the
signature at definition time.)
"""

import time
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from memwise_assets.cluster.definitions import cluster_executor
from memwise_assets.cluster.env import DATA_DIR_ENV
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource

HOLD_MB = 200.0


class HoldConfig(dg.Config):
    """How long the step holds its reservation."""

    seconds: float = 1.0


@dg.asset
def held_reservation(
    context: dg.AssetExecutionContext, config: HoldConfig, memory: MemoryResource
) -> Iterator[dg.Output]:
    """A step that keeps a ledger reservation for `seconds`, then stores one row."""
    with memory.step(context, budget="default", static_estimate_mb=HOLD_MB) as step:
        deadline = time.monotonic() + config.seconds
        while time.monotonic() < deadline:
            step.mark("holding")
            time.sleep(0.25)
        yield step.output(pd.DataFrame({"held_s": [config.seconds]}))


defs = dg.Definitions(
    assets=[held_reservation],
    resources={
        "memory": MemoryResource(),
        "io_manager": ParquetIOManager(base_dir=dg.EnvVar(DATA_DIR_ENV)),
    },
    executor=cluster_executor,
)
