"""A job whose step holds the GIL past its timeout, on the multiprocess executor."""

import ctypes
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource


@dg.asset(metadata={"memwise/timeout_s": 3})
def stuck(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """Sleeps in a C call that keeps the GIL: no signal handler or thread can run."""
    with memory.step(context, budget="default") as step:
        ctypes.PyDLL(None).sleep(120)
        yield step.output(pd.DataFrame({"x": [1]}))


@dg.asset
def unaffected(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """A step of the same run that must still materialize."""
    with memory.step(context, budget="default") as step:
        yield step.output(pd.DataFrame({"x": [2]}))


def stuck_job() -> dg.JobDefinition:
    """stuck + unaffected on the multiprocess executor, resources under $DAGSTER_HOME."""
    defs = dg.Definitions(
        assets=[stuck, unaffected],
        jobs=[dg.define_asset_job("stuck_job", executor_def=dg.multiprocess_executor)],
        resources={"memory": MemoryResource(timeout_grace_s=2), "io_manager": ParquetIOManager()},
    )
    return defs.resolve_job_def("stuck_job")
