"""The memory resource: every step estimated, admitted on the host ledger, monitored.

A step's budget is memory it may add above its own start RSS, so a step means the same
in the in-process executor (one long-lived process) and in the multiprocess executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator, model_validator

from memwise_assets.defs import step_limits
from memwise_assets.defs.budgets import (
    FILING_ITEM_BASE_MB,
    FILING_ITEM_PER_INPUT_MB,
    budget_named,
    default_limits_mb,
)
from memwise_assets.defs.calibration import (
    FAILED_KEY,
    INCREASE_KEY,
    INPUT_KEY,
    Estimate,
    calibrated_estimate,
    history_for,
)
from memwise_assets.defs.shared import memwise_home, safe_name
from memwise_assets.defs.step import StepMemory, register_open, unregister_open
from memwise_assets.memory import (
    AdmissionTimeout,
    FileCategory,
    IsolatedResult,
    MemoryLedger,
    MemoryLimitExceeded,
    MemoryMonitor,
    OversizeRequest,
    SessionCache,
    current_rss_mb,
    estimate_for_size,
    run_isolated,
    total_mb,
)
from memwise_assets.memory.ledger import default_ledger_dir
from memwise_assets.memory.lifeline import start_run_lifeline

# Configuration bounds refused at load (each error names its field).
MAX_RESERVE_FRACTION = 0.9
MAX_EMERGENCY_FRACTION = 10.0
MONITOR_INTERVAL_BOUNDS_S = (0.001, 60.0)
MAX_POOL_HOST_FACTOR = 2.0  # a pool may count swap, not a fantasy

# The budgets table's limits, kept under this name for existing callers.
DEFAULT_LIMITS_MB: dict[str, float] = default_limits_mb()


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
        description="Folder of the session caches and run records; default "
        "$DAGSTER_HOME/memwise. When set, it also holds a private ledger (unless ledger_dir).",
    )
    ledger_dir: str | None = Field(
        default=None,
        description="Folder of the memory ledger. Default: <home_dir>/ledger when home_dir is "
        "set, else $MEMWISE_LEDGER_DIR, else one per user per host in the temp folder "
        "(/tmp/memwise-ledger-<uid>), shared by every Dagster home of that user.",
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
        default=5, description="Steps of history needed before the calibrated estimator is used."
    )
    calibration_window: int = Field(
        default=30, description="How many recent steps (one point per run and step) it reads."
    )
    calibration_quantile: float = Field(
        default=0.99, description="Coverage of the calibrated estimate's prediction bound."
    )
    # -- step timeouts and memory retries (issue 16) --
    step_timeouts_s: dict[str, float] = Field(
        default_factory=step_limits.default_step_timeouts_s,
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
        bad = {k: v for k, v in value.items() if not 0 < v < float("inf")}
        if bad:
            raise ValueError(f"limits_mb must all be finite numbers > 0 MB; got {bad}")
        for name in value:
            budget_named(name)  # a misspelt budget would silently keep its default
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
        if not 0 <= self.reserve_fraction <= MAX_RESERVE_FRACTION:
            raise ValueError(
                f"reserve_fraction must be in [0, {MAX_RESERVE_FRACTION}] (above it the ledger "
                f"hands out almost nothing and steps wait); got {self.reserve_fraction}"
            )
        if not self.emergency_fraction <= MAX_EMERGENCY_FRACTION:
            raise ValueError(
                f"emergency_fraction must be <= {MAX_EMERGENCY_FRACTION} (times the budget); "
                f"got {self.emergency_fraction}"
            )
        lo, hi = MONITOR_INTERVAL_BOUNDS_S
        if not lo <= self.monitor_interval_s <= hi:
            raise ValueError(
                f"monitor_interval_s must be in [{lo}, {hi}] seconds; got {self.monitor_interval_s}"
            )
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
        host_mb = total_mb()
        if self.pool_mb is not None and self.pool_mb > MAX_POOL_HOST_FACTOR * host_mb:
            raise ValueError(
                f"pool_mb {self.pool_mb:g} MB is more than {MAX_POOL_HOST_FACTOR:g} x this "
                f"host's {host_mb:.0f} MB of RAM: the ledger would admit what cannot fit"
            )
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
    def ledger_location(self) -> Path:
        """Where the ledger lives (see `ledger_dir`)."""
        if self.ledger_dir:
            return Path(self.ledger_dir)
        if self.home_dir:
            return Path(self.home_dir) / "ledger"
        return default_ledger_dir()

    @property
    def ledger(self) -> MemoryLedger:
        """The host's reservation ledger (opened lazily, once per process)."""
        if self._ledger is None:
            self._ledger = MemoryLedger(
                self.ledger_location, pool_mb=self.pool_mb, reserve_fraction=self.reserve_fraction
            )
        return self._ledger

    def session_cache(self, run_id: str) -> SessionCache:
        """The session cache of one run (one subfolder per step)."""
        return SessionCache(self.cache_root, run_id)

    # -- the pieces assets use ----------------------------------------------------------

    def limit_for(self, budget: str) -> float:
        """Memory in MB a step of this budget may add above its start (unknown: an error)."""
        spec = budget_named(budget)
        return float(self.limits_mb.get(spec.name, spec.limit_mb))

    def size_estimate(
        self,
        size_mb: float,
        multiplier: float = FILING_ITEM_PER_INPUT_MB,
        base_mb: float = FILING_ITEM_BASE_MB,
    ):
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
            budget_mb=limit_mb,
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
        """Estimate, admit and monitor one asset step, for the whole `with` block.

        The asset yields its `Output` inside the block: Dagster runs the IO manager right
        there (the write, the step's memory metadata, the cache purge), then the asset
        yields its check results, still inside; the reservation and the monitor are
        released when the block ends, whether it ends normally or by an exception.
        `static_estimate_mb` overrides the budget's size formula (before calibration).
        """
        spec = budget_named(budget)
        limit_mb = self.limit_for(spec.name)
        if static_estimate_mb is None:
            static_estimate_mb = spec.static_estimate(input_mb)
        static_mb = min(static_estimate_mb, limit_mb)
        estimate = self.estimate(context.instance, context.asset_key, input_mb, static_mb)
        # A retry after MemoryLimitExceeded runs, and is admitted, with a raised budget.
        limit_mb, raise_reason = step_limits.retry_budget(self, context, limit_mb)
        if raise_reason:
            estimate = Estimate(limit_mb, "memory-retry", {"reason": raise_reason})
        timeout = step_limits.step_timeout(self, context, spec.name)
        state: StepMemory | None = None
        try:
            with self._step_block(
                context,
                estimate,
                limit_mb,
                spec.name,
                input_mb,
                timeout,
                raise_reason,
                include_children,
            ) as state:
                yield state
        except BaseException as failure:
            if state is not None and not isinstance(failure, GeneratorExit):
                _record_failed_peak(context, state.metrics(), failure)
            raise

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Which processes run this run, so a run killed with them is found and mended.
        if context.dagster_run is not None:
            start_run_lifeline(self.home, context.dagster_run.run_id)

    @contextmanager
    def _step_block(
        self,
        context: dg.AssetExecutionContext,
        estimate: Estimate,
        limit_mb: float,
        budget: str,
        input_mb: float,
        timeout: Any,
        raise_reason: str | None,
        include_children: bool = True,
    ) -> Iterator[StepMemory]:
        run_id, step_key = context.run_id, context.get_step_execution_context().step.key
        label = f"{run_id[:8]}:{step_key}"
        with ExitStack() as stack:
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
            )
            context.log.info(
                f"admitted {step_key}: estimate {estimate.mb:.0f} MB ({estimate.estimator}), "
                f"budget {limit_mb:.0f} MB, waited {waited_s:.2f} s, "
                f"timeout {timeout.seconds:.0f} s ({timeout.describe()})"
            )
            register_open(run_id, step_key, state)
            try:
                yield state
            except BaseException as exc:
                failure = step_limits.failure_for(self, context, state, exc)
                if failure is None:
                    raise
                raise failure from exc
            finally:
                unregister_open(run_id, step_key)
            if not state.output_recorded:
                context.log.warning(
                    f"{step_key} left memory.step() before its output was written: yield the "
                    "Output inside the `with` block so the step's memory figures are recorded"
                )


def _record_failed_peak(
    context: dg.AssetExecutionContext, metrics: dict[str, Any], failure: BaseException
) -> None:
    """A step that failed over its budget leaves its peak as history: the next estimate grows."""
    if not (isinstance(failure, MemoryLimitExceeded) or not metrics["within_budget"]):
        return
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            metadata={
                INPUT_KEY: metrics["input_mb"],
                INCREASE_KEY: metrics["rss_increase_mb"],
                "memwise/peak_rss_mb": metrics["peak_memory_mb"],
                "memwise/budget_mb": metrics["budget_mb"],
                FAILED_KEY: True,
            },
        )
    )


def _own_rss_mb() -> float:
    return current_rss_mb(include_children=False)
