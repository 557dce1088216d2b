"""One running step's memory state, and the output that carries it to the IO manager.

`MemoryResource.step()` (defs/resources.py) opens a step: budget, estimate, admission,
monitor, deadline; it yields the `StepMemory` below and closes it when its `with` block ends.
The asset hands its result to the IO manager as `step.output(value)`: a `dg.Output` whose
value is a `StepOutput`, the payload together with the step that made it. The IO manager
(defs/io_manager.py) unwraps it with `step_output`, writes the payload durably, then calls
`StepMemory.finish` (cache purge, run metrics, the step's `StepFigures`). No registry ties
the two: the step travels with the value, so a plain `dg.Output`, or one yielded after the
block ended (outside the reservation), is refused with an error saying how to yield it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.defs.calibration import Estimate
from memwise_assets.defs.figures import STEP_KEY, StepFigures
from memwise_assets.memory import MemoryMonitor, SessionCache
from memwise_assets.memory.host import host_id
from memwise_assets.memory.run_metrics import record_step

# How to hand the IO manager an output, said by every refusal.
_HOW = (
    "yield `step.output(value)` inside `with memory.step(context, budget=...) as step:` "
    "so the write runs under the step's reservation and records its figures"
)
# What a step runs in: an asset's context, or an op's (the EDGAR download is a plain op).
StepContext = dg.AssetExecutionContext | dg.OpExecutionContext


@dataclass
class StepMemory:
    """What one running step holds: its reservation, monitor, cache and figures."""

    step_key: str
    budget: str
    limit_mb: float
    estimate: Estimate
    input_mb: float
    cache: SessionCache
    cache_step: str
    monitor: MemoryMonitor
    started: float = field(default_factory=time.perf_counter)
    waited_s: float = 0.0
    # The step's timeout and budget-raise figures (step_limits), recorded with its output.
    limits_metadata: dict[str, Any] = field(default_factory=dict)
    # True while `memory.step()`'s block runs: the reservation, monitor and deadline hold.
    is_open: bool = True
    # What an exception raised while the IO manager pulls this step's blocks becomes: the
    # same failure (a timeout, a memory retry) as if the asset had raised it in its block.
    failure: Callable[[BaseException], BaseException] | None = None

    @property
    def cache_dir(self) -> Path:
        """This step's scratch folder in the run's session cache (created on demand)."""
        return self.cache.step(self.cache_step)

    def mark(self, stage: str) -> None:
        """Record a named memory sample (and raise if the emergency threshold was passed)."""
        self.monitor.mark(stage)

    def register_cleanup(self, fn: Callable[[], Any]) -> None:
        """Run `fn` before failing the step at the emergency threshold."""
        self.monitor.register_cleanup(fn)

    def check_open(self, asset_label: str) -> None:
        """Refuse to write for a step whose block has ended (its reservation released)."""
        if not self.is_open:
            raise RuntimeError(
                f"{asset_label} yielded its output after its memory.step() block ended (its "
                f"reservation released, its monitor stopped); {_HOW}"
            )

    def output(self, value: Any, metadata: Mapping[str, Any] | None = None) -> dg.Output:
        """The step's result for the IO manager: yield it inside the `with` block.

        `value`: a DataFrame, a mapping of partition key to frame, or `Blocks`.
        """
        return dg.Output(StepOutput(value, self), metadata=dict(metadata or {}))

    def metrics(self) -> dict[str, Any]:
        """The monitor's metrics plus the step's budget-relative figures."""
        metrics = self.monitor.metrics()
        increase = max(0.0, metrics["peak_memory_mb"] - metrics["initial_memory_mb"])
        return {
            **metrics,
            "budget": self.budget,
            "budget_mb": self.limit_mb,
            "rss_increase_mb": round(increase, 3),
            "budget_usage_percent": round(100.0 * increase / self.limit_mb, 3),
            "within_budget": increase <= self.limit_mb,
            "estimate_mb": self.estimate.mb,
            "estimator": self.estimate.estimator,
            "estimator_inputs": self.estimate.inputs,
            "input_mb": self.input_mb,
            "admission_wait_s": round(self.waited_s, 3),
            "seconds": round(time.perf_counter() - self.started, 3),
            "host": host_id(),
        }

    def finish(
        self, data_root: Path | None, run_id: str, asset_label: str, rows: int
    ) -> dict[str, Any]:
        """After the step's output is durable: purge its cache, record it; its metadata.

        `data_root`: where the run's `batch_execution_metrics.json` goes (None: a step that
        stores no table, such as the EDGAR download, writes none).
        """
        metrics = self.metrics()
        purge = self.cache.purge(self.cache_step)
        if data_root is not None:
            record_step(data_root, run_id, self.step_key, asset_label, metrics, purge, rows=rows)
        figures = self.figures(metrics, purge)
        return {**figures.to_metadata(), STEP_KEY: self.step_key}

    def figures(self, metrics: dict[str, Any], purge: Mapping[str, Any]) -> StepFigures:
        """The step's `StepFigures` from its metrics and its cache purge."""
        return StepFigures(
            peak_rss_mb=metrics["peak_memory_mb"],
            rss_increase_mb=metrics["rss_increase_mb"],
            limit_mb=self.limit_mb,
            peak_usage_percent=metrics["budget_usage_percent"],
            within_limit=metrics["within_budget"],
            estimate_mb=self.estimate.mb,
            estimator=self.estimate.estimator,
            estimator_inputs=self.estimate.inputs,
            input_mb=self.input_mb,
            seconds=metrics["seconds"],
            admission_wait_s=metrics["admission_wait_s"],
            sample_count=metrics["sample_count"],
            samples=metrics["samples"],
            peak_source=str(metrics.get("peak_source", "")),
            cache_files_removed=purge["files_removed"],
            cache_mb_freed=purge["disk_freed_mb"],
            step=self.step_key,
            host=metrics.get("host"),
            **self.limits_metadata,
        )


@dataclass(frozen=True)
class StepOutput:
    """An output's payload and the step that made it (what `StepMemory.output` wraps)."""

    value: Any
    step: StepMemory


def step_output(obj: Any, asset_label: str, step_key: str) -> tuple[StepMemory, Any]:
    """The step and payload of what an asset yielded; a clear error for anything else."""
    if not isinstance(obj, StepOutput):
        raise TypeError(
            f"{asset_label} gave the IO manager a plain {type(obj).__name__}, not a step's "
            f"output: memwise stores only what a memory step hands it; {_HOW}"
        )
    obj.step.check_open(asset_label)
    if obj.step.step_key != step_key:
        raise RuntimeError(
            f"{asset_label} yielded the output of step {obj.step.step_key!r} from step "
            f"{step_key!r}; each step yields its own `step.output(...)`"
        )
    return obj.step, obj.value
