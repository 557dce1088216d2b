"""Toy assets and jobs the fault tests run in real step processes (importable by children)."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource

_MB = 1024 * 1024


class VictimConfig(dg.Config):
    """Where the victim step says it started and waits to be released (or killed)."""

    control_dir: str = Field(description="Folder of pid files and release files.")


@dg.asset
def steady(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """A step that always succeeds: its stored output must survive the faults of others."""
    with memory.step(context, budget="default", static_estimate_mb=32) as step:
        yield step.output(
            pd.DataFrame({"i": np.arange(1000, dtype=np.int32), "v": np.linspace(0, 1, 1000)})
        )


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
def victim(
    context: dg.AssetExecutionContext,
    config: VictimConfig,
    memory: MemoryResource,
    steady: pd.DataFrame,
) -> Iterator[dg.Output]:
    """A step that writes scratch, says its pid, then waits to be released or SIGKILLed."""
    control = Path(config.control_dir)
    attempt = context.retry_number
    with memory.step(context, budget="default", static_estimate_mb=48) as step:
        (step.cache_dir / f"scratch-{attempt}.bin").write_bytes(b"s" * (2 * _MB))
        ballast = np.ones(8 * _MB // 8)  # something to lose when the OOM killer strikes
        (control / f"attempt-{attempt}.pid").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not (control / f"release-{attempt}").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"attempt {attempt} was neither released nor killed")
            time.sleep(0.02)
        step.mark("released")
        del ballast
        yield step.output(steady.assign(v=steady["v"] * 2 + attempt))


def kill_job() -> dg.JobDefinition:
    """steady -> victim on the multiprocess executor, resources under $DAGSTER_HOME."""
    defs = dg.Definitions(
        assets=[steady, victim],
        jobs=[dg.define_asset_job("kill_job", executor_def=dg.multiprocess_executor)],
        resources={"memory": MemoryResource(), "io_manager": ParquetIOManager()},
    )
    return defs.resolve_job_def("kill_job")


def _wide(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=400) as step:
        ballast = np.ones(50 * _MB // 8)
        time.sleep(0.4)
        step.mark("held")
        yield step.output(pd.DataFrame({"n": [int(ballast.size)]}))


wide_a = dg.asset(name="wide_a")(_wide)
wide_b = dg.asset(name="wide_b")(_wide)


def run_wide(home: str, pool_mb: float, gate: str) -> bool:
    """Child target: once `gate` exists, materialize two steps of 400 MB estimates each."""
    deadline = time.monotonic() + 120
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    result = dg.materialize(
        [wide_a, wide_b],
        resources={
            "memory": MemoryResource(home_dir=home, pool_mb=pool_mb, admission_timeout_s=60),
            "io_manager": ParquetIOManager(base_dir=f"{home}/data/{os.getpid()}"),
        },
    )
    return result.success
