"""One running step's memory state, and where the IO manager finds the step it writes for.

`MemoryResource.step()` owns a step's life: it opens the reservation and the monitor,
registers the `StepMemory` below while its `with` block runs, and unregisters and closes
both when the block ends. The IO manager only looks the open step up (`open_step`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memwise_assets.defs.calibration import Estimate
from memwise_assets.memory import MemoryMonitor, SessionCache
from memwise_assets.memory.host import host_id


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
    # Set by the IO manager once it has written the step's output and recorded its figures.
    output_recorded: bool = False
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


# Open steps of this process by (run_id, step_key), so the IO manager (which Dagster calls
# while the asset's generator is suspended at `yield Output`, and which gets no handle on
# the asset's resource) can record into the step. `step()` alone adds and removes entries:
# the IO manager only looks a step up, it never opens or closes one.
_OPEN: dict[tuple[str, str], StepMemory] = {}
_OPEN_LOCK = threading.Lock()


def register_open(run_id: str, step_key: str, state: StepMemory) -> None:
    """Make `state` the open step of (run, step key); only `MemoryResource.step()` calls it."""
    with _OPEN_LOCK:
        _OPEN[(run_id, step_key)] = state


def unregister_open(run_id: str, step_key: str) -> None:
    """The step's block ended: it is no longer open."""
    with _OPEN_LOCK:
        _OPEN.pop((run_id, step_key), None)


def open_step(run_id: str, step_key: str) -> StepMemory | None:
    """The step `memory.step()` holds open for this run and step (None outside one)."""
    with _OPEN_LOCK:
        return _OPEN.get((run_id, step_key))
