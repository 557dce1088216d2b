"""The memory resource: every step estimated, admitted on the host ledger, monitored.

A step's budget is memory it may add above its own start RSS, so a step means the same
in the in-process executor (one long-lived process) and in the multiprocess executor.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr, field_validator, model_validator

from memwise_assets.defs import step_limits
from memwise_assets.defs.calibration import Estimate, calibrated_estimate, history_for
from memwise_assets.memory import (
    AdmissionTimeout,
    FileCategory,
    IsolatedResult,
    MemoryLedger,
    MemoryMonitor,
    OversizeRequest,
    SessionCache,
    current_rss_mb,
    estimate_for_size,
    run_isolated,
)

_MB = 1024.0 * 1024.0

DEFAULT_LIMITS_MB: dict[str, float] = {
    "prices": 500.0,
    "weekly": 2048.0,
    "labels": 8192.0,
    "filings": 4096.0,
    "default": 1024.0,
}


def memwise_home() -> Path:
    """Where memwise keeps its ledger, caches, data and dead letters by default."""
    home = os.environ.get("DAGSTER_HOME") or os.path.abspath(".memwise_home")
    return Path(home) / "memwise"


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
    limits_metadata: dict[str, Any] = field(default_factory=dict)
    _exit: ExitStack = field(default_factory=ExitStack)

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
        }

    def close(self) -> dict[str, Any]:
        """Stop the monitor, release the reservation; return the final metrics."""
        try:
            self._exit.close()
        finally:
            metrics = self.metrics()
        return metrics


# Steps of this process by (run_id, step_key): the IO manager finishes what the asset began.
# Dagster hands resources to IO managers as copies, so the registry lives at module level.
_ACTIVE: dict[tuple[str, str], StepMemory] = {}
_ACTIVE_LOCK = threading.Lock()


class MemoryResource(dg.ConfigurableResource):
    """Memory admission, per-item timeouts, monitoring and session caches for every step."""

    limits_mb: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_LIMITS_MB),
        description="Memory a step of each budget may add above its start RSS, in MB "
        "(keys: prices, weekly, labels, filings, default).",
    )
    reserve_fraction: float = Field(
        default=0.2, description="Share of host RAM never handed out by the ledger."
    )
    warn_fraction: float = Field(default=0.8, description="Warn at this share of the limit.")
    emergency_fraction: float = Field(
        default=1.2, description="Run cleanups, then fail the step, at this share of the limit."
    )
    monitor_interval_s: float = Field(default=0.05, description="RSS sampling interval.")
    admission_timeout_s: float = Field(
        default=300.0, description="How long a step waits for memory before it is retried."
    )
    retry_wait_s: float = Field(
        default=30.0, description="Wait before Dagster retries a step that was not admitted."
    )
    max_admission_retries: int = Field(
        default=5, description="Retries of a step that could not be admitted in time."
    )
    home_dir: str | None = Field(
        default=None,
        description="Folder of the ledger and session caches; default $DAGSTER_HOME/memwise.",
    )
    pool_mb: float | None = Field(
        default=None, description="Ledger pool size in MB; default host RAM minus the reserve."
    )
    small_below_mb: float = Field(default=20.0, description="Inputs below this are SMALL.")
    large_above_mb: float = Field(default=50.0, description="Inputs above this are LARGE.")
    timeouts_s: dict[str, float] = Field(
        default_factory=lambda: {"SMALL": 600.0, "MEDIUM": 1200.0, "LARGE": 2400.0},
        description="Per-item timeout in seconds by size class.",
    )
    calibration_min_history: int = Field(
        default=5, description="Materializations needed before the calibrated estimator is used."
    )
    calibration_window: int = Field(
        default=30, description="How many recent materializations the calibration reads."
    )
    calibration_quantile: float = Field(
        default=0.99, description="Coverage of the calibrated estimate's prediction bound."
    )
    # -- step timeouts and memory retries (issue 16) --
    step_timeouts_s: dict[str, float] = Field(
        default_factory=lambda: dict(step_limits.DEFAULT_STEP_TIMEOUTS_S),
        description="Static timeout in seconds of a whole step, per budget (keys as limits_mb).",
    )
    timeout_overrides_s: dict[str, float] = Field(
        default_factory=dict,
        description="Timeout in seconds per asset key (e.g. 'daily_bars'), e.g. for one run.",
    )
    timeout_floor_s: float = Field(
        default=60.0, description="Adaptive timeouts never go below this many seconds."
    )
    timeout_k: float = Field(default=3.0, description="Adaptive: k x trailing median seconds.")
    timeout_margin: float = Field(default=1.5, description="Adaptive: p99 seconds x margin.")
    timeout_window: int = Field(
        default=30, description="How many recent materializations the adaptive timeout reads."
    )
    timeout_min_history: int = Field(
        default=5, description="Materializations needed before the timeout becomes adaptive."
    )
    timeout_grace_s: float = Field(
        default=5.0,
        description="A step stuck in a GIL-holding call this long past its deadline is "
        "killed, when it runs in a process of its own (multiprocess executor).",
    )
    max_memory_retries: int = Field(
        default=2, description="Retries of a step that failed with MemoryLimitExceeded."
    )
    memory_retry_headroom_mb: float = Field(
        default=100.0, description="A memory retry's budget: max(peak + this, factor x peak)."
    )
    memory_retry_factor: float = Field(
        default=1.5, description="A memory retry's budget: max(peak + headroom, this x peak)."
    )

    _ledger: MemoryLedger | None = PrivateAttr(default=None)

    @field_validator("limits_mb")
    @classmethod
    def _positive_limits(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"limits_mb must all be > 0 MB; got {bad}")
        return {**DEFAULT_LIMITS_MB, **value}

    @field_validator("timeouts_s")
    @classmethod
    def _positive_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - {c.name for c in FileCategory}
        bad = {k: v for k, v in value.items() if not v > 0}
        if unknown or bad:
            raise ValueError(
                "timeouts_s needs keys SMALL, MEDIUM, LARGE with seconds > 0; "
                f"got unknown keys {sorted(unknown)}, non-positive {bad}"
            )
        return value

    @model_validator(mode="after")
    def _sane_fractions(self) -> MemoryResource:
        if not 0 <= self.reserve_fraction < 1:
            raise ValueError(f"reserve_fraction must be in [0, 1); got {self.reserve_fraction}")
        if not 0 < self.warn_fraction <= 1 <= self.emergency_fraction:
            raise ValueError(
                "need 0 < warn_fraction <= 1 <= emergency_fraction; got "
                f"warn_fraction={self.warn_fraction}, emergency_fraction={self.emergency_fraction}"
            )
        for name in ("monitor_interval_s", "admission_timeout_s", "small_below_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")
        if self.large_above_mb < self.small_below_mb:
            raise ValueError(
                f"large_above_mb ({self.large_above_mb}) must be >= small_below_mb "
                f"({self.small_below_mb})"
            )
        if self.pool_mb is not None and not 0 < self.pool_mb < float("inf"):
            raise ValueError(f"pool_mb must be a finite number > 0 MB when set; got {self.pool_mb}")
        if not self.emergency_fraction < float("inf"):
            raise ValueError(f"emergency_fraction must be finite; got {self.emergency_fraction}")
        # Dagster would only trip over these at the first retry, long after load time.
        if not (self.retry_wait_s >= 0 and self.max_admission_retries >= 0):
            raise ValueError(
                "retry_wait_s and max_admission_retries must be >= 0; got "
                f"retry_wait_s={self.retry_wait_s}, max_admission_retries="
                f"{self.max_admission_retries}"
            )
        if self.calibration_min_history < 2 or not 0.5 <= self.calibration_quantile < 1:
            raise ValueError(
                "calibration needs min_history >= 2 and 0.5 <= quantile < 1; got "
                f"{self.calibration_min_history}, {self.calibration_quantile}"
            )
        step_limits.check_config(self)
        if self.calibration_window < self.calibration_min_history:
            raise ValueError(
                f"calibration_window ({self.calibration_window}) must be >= "
                f"calibration_min_history ({self.calibration_min_history})"
            )
        return self

    # -- locations ---------------------------------------------------------------------

    @property
    def home(self) -> Path:
        return Path(self.home_dir) if self.home_dir else memwise_home()

    @property
    def cache_root(self) -> Path:
        return self.home / "cache"

    @property
    def ledger(self) -> MemoryLedger:
        """The host's reservation ledger (opened lazily, once per process)."""
        if self._ledger is None:
            self._ledger = MemoryLedger(
                self.home / "ledger", pool_mb=self.pool_mb, reserve_fraction=self.reserve_fraction
            )
        return self._ledger

    def session_cache(self, run_id: str) -> SessionCache:
        """The session cache of one run (one subfolder per step)."""
        return SessionCache(self.cache_root, run_id)

    # -- the pieces assets use ----------------------------------------------------------

    def limit_for(self, budget: str) -> float:
        """Memory in MB a step of this budget may add above its start."""
        return float(self.limits_mb.get(budget, self.limits_mb["default"]))

    def timeout_for(self, size_mb: float) -> float:
        """Per-item timeout in seconds for an input of this size."""
        category = FileCategory.of(size_mb, self.small_below_mb, self.large_above_mb)
        return float(self.timeouts_s[category.name])

    def size_estimate(self, size_mb: float, multiplier: float = 12.0, base_mb: float = 500.0):
        """The static size-class estimate of one input (filings: 12 x MB + 500 MB)."""
        return estimate_for_size(
            size_mb,
            multiplier=multiplier,
            base_mb=base_mb,
            timeouts={c: self.timeouts_s[c.name] for c in FileCategory},
            small_below_mb=self.small_below_mb,
            large_above_mb=self.large_above_mb,
        )

    def estimate(
        self,
        instance: dg.DagsterInstance | None,
        asset_key: dg.AssetKey,
        input_mb: float,
        static_mb: float,
        history: list[tuple[float, float]] | None = None,
    ) -> Estimate:
        """The admission estimate: static until enough history, then the calibrated fit.

        `history` saves the event-log read when many items of one step share it.
        """
        if history is None:
            history = self.history(instance, asset_key)
        return calibrated_estimate(
            static_mb=static_mb,
            input_mb=input_mb,
            history=history,
            min_history=self.calibration_min_history,
            quantile=self.calibration_quantile,
        )

    def history(
        self, instance: dg.DagsterInstance | None, asset_key: dg.AssetKey, **keys: str
    ) -> list[tuple[float, float]]:
        """(input MB, peak MB) of the asset's recent materializations (keys: which figures)."""
        if instance is None:
            return []
        return history_for(instance, asset_key, self.calibration_window, **keys)

    @contextmanager
    def admit(self, estimate_mb: float, label: str) -> Iterator[float]:
        """Hold a ledger reservation of `estimate_mb`; yields seconds waited.

        Too long a wait becomes `dg.RetryRequested` (Dagster retries the step later); a
        request larger than the whole pool fails at once, saying what the host has.
        """
        try:
            with self.ledger.reserve(
                estimate_mb, timeout_s=self.admission_timeout_s, label=label
            ) as reservation:
                yield float(getattr(reservation, "waited_s", 0.0))
        except OversizeRequest as exc:
            raise dg.Failure(
                description=(
                    f"{label} asked the ledger for {estimate_mb:.0f} MB but this host's pool "
                    f"holds {self.ledger.pool_mb:.0f} MB in all: {exc}"
                ),
                allow_retries=False,
            ) from exc
        except AdmissionTimeout as exc:
            raise dg.RetryRequested(
                max_retries=self.max_admission_retries, seconds_to_wait=self.retry_wait_s
            ) from exc

    def monitor(
        self, limit_mb: float, logger: Any = None, include_children: bool = True
    ) -> MemoryMonitor:
        """A monitor whose thresholds sit `limit_mb` above the current RSS.

        `include_children=False` watches this process alone: for steps whose children
        (worker pools) hold ledger reservations of their own.
        """
        probe = None if include_children else _own_rss_mb
        start = current_rss_mb(include_children)
        # Warn and emergency lines are shares of the budget, not of start RSS + budget: a
        # step of a 1 GB process over its 200 MB budget by 30 % is over, whatever it began at.
        line = start + limit_mb
        return MemoryMonitor(
            line,
            interval_s=self.monitor_interval_s,
            warn_fraction=(start + self.warn_fraction * limit_mb) / line,
            emergency_fraction=(start + self.emergency_fraction * limit_mb) / line,
            logger=logger,
            probe=probe,
            kernel_peak=True,
        )

    def run_isolated(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float,
        memory_cap_mb: float | None,
        **kwargs: Any,
    ) -> IsolatedResult:
        """Run one work item in a child process with a wall-clock timeout and an RSS cap."""
        return run_isolated(fn, *args, timeout_s=timeout_s, memory_cap_mb=memory_cap_mb, **kwargs)

    @contextmanager
    def step(
        self,
        context: dg.AssetExecutionContext,
        *,
        budget: str,
        input_mb: float = 0.0,
        static_estimate_mb: float | None = None,
        include_children: bool = True,
    ) -> Iterator[StepMemory]:
        """Estimate, admit and monitor one asset step; the IO manager finishes it.

        On success the reservation and the monitor stay open until the output is
        durably written (writing takes memory too); on failure both close here.
        """
        limit_mb = self.limit_for(budget)
        static_mb = min(
            static_estimate_mb if static_estimate_mb is not None else limit_mb, limit_mb
        )
        asset_key = context.asset_key
        estimate = self.estimate(context.instance, asset_key, input_mb, static_mb)
        # A retry after MemoryLimitExceeded runs, and is admitted, with a raised budget.
        limit_mb, raise_reason = step_limits.retry_budget(self, context, limit_mb)
        if raise_reason:
            estimate = Estimate(limit_mb, "memory-retry", {"reason": raise_reason})
        timeout = step_limits.step_timeout(self, context, budget)
        run_id, step_key = context.run_id, context.get_step_execution_context().step.key
        label = f"{run_id[:8]}:{step_key}"
        stack = ExitStack()
        try:
            waited_s = stack.enter_context(self.admit(estimate.mb, label))
            monitor = stack.enter_context(
                self.monitor(limit_mb, logger=context.log, include_children=include_children)
            )
            cache = self.session_cache(run_id)
            stack.enter_context(step_limits.step_deadline(self, context, timeout, cache))
            state = StepMemory(
                step_key=step_key,
                budget=budget,
                limit_mb=limit_mb,
                estimate=estimate,
                input_mb=input_mb,
                cache=cache,
                cache_step=safe_name(step_key),
                monitor=monitor,
                waited_s=waited_s,
                limits_metadata=step_limits.limits_metadata(timeout, raise_reason),
                _exit=stack,
            )
        except BaseException:
            stack.close()
            raise
        context.log.info(
            f"admitted {step_key}: estimate {estimate.mb:.0f} MB ({estimate.estimator}), "
            f"budget {limit_mb:.0f} MB, waited {waited_s:.2f} s, "
            f"timeout {timeout.seconds:.0f} s ({timeout.describe()})"
        )
        with _ACTIVE_LOCK:
            _ACTIVE[(run_id, step_key)] = state
        try:
            yield state
        except BaseException as exc:
            with _ACTIVE_LOCK:
                _ACTIVE.pop((run_id, step_key), None)
            state.close()
            failure = step_limits.failure_for(self, context, state, exc)
            if failure is None:
                raise
            raise failure from exc

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        # Steps whose output never reached the IO manager must not keep their reservation.
        run_id = context.run_id if context.dagster_run else None
        with _ACTIVE_LOCK:
            leftovers = [key for key in _ACTIVE if key[0] == run_id]
            states = [_ACTIVE.pop(key) for key in leftovers]
        for state in states:
            state.close()


def finish_step(run_id: str, step_key: str) -> StepMemory | None:
    """Hand the IO manager the step the asset began (None for steps outside `step()`)."""
    with _ACTIVE_LOCK:
        return _ACTIVE.pop((run_id, step_key), None)


def _own_rss_mb() -> float:
    return current_rss_mb(include_children=False)


def safe_name(step_key: str) -> str:
    """A step key as a plain file or folder name (mapped steps carry brackets)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in step_key) or "step"


def frame_mb(frame: pd.DataFrame) -> float:
    """In-memory size of a frame in MB, strings included: the input size estimates scale by."""
    return float(frame.memory_usage(deep=True).sum()) / _MB
