"""What a `MemoryResource` configuration may be: the bounds refused when it loads.

Every check of the resource's configuration is here (the memory figures in `check_bounds`,
the step timeouts and memory retries in `check_step_limits`). Each error names the field
and what came, so a bad deployment fails at load, not at a step hours later. The
resource's pydantic validators call these.
"""

from __future__ import annotations

from dataclasses import fields

import dagster as dg
from pydantic import Field, field_validator, model_validator

from memwise_assets.defs.budgets import (
    Budget,
    RetryPolicy,
    TimeoutPolicy,
    budget_named,
    default_limits_mb,
    default_step_timeouts_s,
)
from memwise_assets.memory import FileCategory, total_mb

# The budgets table's limits, kept under this name for existing callers.
DEFAULT_LIMITS_MB: dict[str, float] = default_limits_mb()

MAX_RESERVE_FRACTION = 0.9
MAX_EMERGENCY_FRACTION = 10.0
MONITOR_INTERVAL_BOUNDS_S = (0.001, 60.0)
MAX_POOL_HOST_FACTOR = 2.0  # a pool may count swap, not a fantasy


def checked_limits(value: dict[str, float]) -> dict[str, float]:
    """`limits_mb` as given, once every budget is known and every limit finite and > 0."""
    bad = {k: v for k, v in value.items() if not 0 < v < float("inf")}
    if bad:
        raise ValueError(f"limits_mb must all be finite numbers > 0 MB; got {bad}")
    for name in value:
        budget_named(name)  # a misspelt budget would silently keep its default
    return value


def checked_timeouts(value: dict[str, float]) -> dict[str, float]:
    """`timeouts_s` as given, once its keys are size classes and its seconds > 0."""
    unknown = set(value) - {c.name for c in FileCategory}
    bad = {k: v for k, v in value.items() if not v > 0}
    if unknown or bad:
        raise ValueError(
            "timeouts_s needs keys SMALL, MEDIUM, LARGE with seconds > 0; "
            f"got unknown keys {sorted(unknown)}, non-positive {bad}"
        )
    return value


def check_bounds(memory: MemoryConfig) -> None:
    """Refuse fractions, intervals, pool sizes and calibration settings out of bounds."""
    if not 0 <= memory.reserve_fraction <= MAX_RESERVE_FRACTION:
        raise ValueError(
            f"reserve_fraction must be in [0, {MAX_RESERVE_FRACTION}] (above it the ledger "
            f"hands out almost nothing and steps wait); got {memory.reserve_fraction}"
        )
    if not memory.emergency_fraction <= MAX_EMERGENCY_FRACTION:
        raise ValueError(
            f"emergency_fraction must be <= {MAX_EMERGENCY_FRACTION} (times the budget); "
            f"got {memory.emergency_fraction}"
        )
    lo, hi = MONITOR_INTERVAL_BOUNDS_S
    if not lo <= memory.monitor_interval_s <= hi:
        raise ValueError(
            f"monitor_interval_s must be in [{lo}, {hi}] seconds; got {memory.monitor_interval_s}"
        )
    if not 0 < memory.warn_fraction <= 1 <= memory.emergency_fraction:
        raise ValueError(
            "need 0 < warn_fraction <= 1 <= emergency_fraction; got "
            f"warn_fraction={memory.warn_fraction}, emergency_fraction={memory.emergency_fraction}"
        )
    for name in ("monitor_interval_s", "admission_timeout_s", "small_below_mb"):
        if not getattr(memory, name) > 0:
            raise ValueError(f"{name} must be > 0; got {getattr(memory, name)}")
    if memory.large_above_mb < memory.small_below_mb:
        raise ValueError(
            f"large_above_mb ({memory.large_above_mb}) must be >= small_below_mb "
            f"({memory.small_below_mb})"
        )
    if memory.pool_mb is not None and not 0 < memory.pool_mb < float("inf"):
        raise ValueError(f"pool_mb must be a finite number > 0 MB when set; got {memory.pool_mb}")
    host_mb = total_mb()
    if memory.pool_mb is not None and memory.pool_mb > MAX_POOL_HOST_FACTOR * host_mb:
        raise ValueError(
            f"pool_mb {memory.pool_mb:g} MB is more than {MAX_POOL_HOST_FACTOR:g} x this "
            f"host's {host_mb:.0f} MB of RAM: the ledger would admit what cannot fit"
        )
    if not memory.emergency_fraction < float("inf"):
        raise ValueError(f"emergency_fraction must be finite; got {memory.emergency_fraction}")
    # Dagster would only trip over these at the first retry, long after load time.
    if not (memory.retry_wait_s >= 0 and memory.max_admission_retries >= 0):
        raise ValueError(
            "retry_wait_s and max_admission_retries must be >= 0; got "
            f"retry_wait_s={memory.retry_wait_s}, max_admission_retries="
            f"{memory.max_admission_retries}"
        )
    if memory.calibration_min_history < 2 or not 0.5 <= memory.calibration_quantile < 1:
        raise ValueError(
            "calibration needs min_history >= 2 and 0.5 <= quantile < 1; got "
            f"{memory.calibration_min_history}, {memory.calibration_quantile}"
        )
    if memory.calibration_window < memory.calibration_min_history:
        raise ValueError(
            f"calibration_window ({memory.calibration_window}) must be >= "
            f"calibration_min_history ({memory.calibration_min_history})"
        )


def check_step_limits(memory: MemoryConfig) -> None:
    """Refuse step timeouts and memory-retry settings that would only fail a step later."""
    bad = {k: v for k, v in memory.step_timeouts_s.items() if not v > 0}
    bad.update({k: v for k, v in memory.timeout_overrides_s.items() if not v > 0})
    if bad or "default" not in memory.step_timeouts_s:
        raise ValueError(
            "step_timeouts_s (with a 'default' key) and timeout_overrides_s need seconds > 0; "
            f"got {bad or memory.step_timeouts_s}"
        )
    positive = ("timeout_floor_s", "timeout_k", "timeout_margin", "memory_retry_factor")
    for name in positive:
        if not 0 < getattr(memory, name) < float("inf"):
            raise ValueError(f"{name} must be a finite number > 0; got {getattr(memory, name)}")
    if memory.memory_retry_factor < 1 or memory.memory_retry_headroom_mb < 0:
        raise ValueError(
            "memory_retry_factor must be >= 1 and memory_retry_headroom_mb >= 0; got "
            f"{memory.memory_retry_factor}, {memory.memory_retry_headroom_mb}"
        )
    if memory.max_memory_retries < 0 or memory.timeout_grace_s < 0:
        raise ValueError(
            "max_memory_retries and timeout_grace_s must be >= 0; got "
            f"{memory.max_memory_retries}, {memory.timeout_grace_s}"
        )
    if not 1 <= memory.timeout_min_history <= memory.timeout_window:
        raise ValueError(
            f"need 1 <= timeout_min_history ({memory.timeout_min_history}) <= timeout_window "
            f"({memory.timeout_window})"
        )


class MemoryConfig(dg.ConfigurableResource):
    """The memory resource's configuration and its load-time checks (`MemoryResource` acts)."""

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
        default=None,
        description="Ledger pool size in MB; default $MEMWISE_POOL_MB (a host of a cluster "
        "given less than its RAM), else host RAM minus the reserve.",
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
    # -- step timeouts and memory retries --
    step_timeouts_s: dict[str, float] = Field(
        default_factory=default_step_timeouts_s,
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

    @field_validator("limits_mb")
    @classmethod
    def _positive_limits(cls, value: dict[str, float]) -> dict[str, float]:
        return {**DEFAULT_LIMITS_MB, **checked_limits(value)}

    @field_validator("timeouts_s")
    @classmethod
    def _positive_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        return checked_timeouts(value)

    @model_validator(mode="after")
    def _sane_fractions(self) -> MemoryConfig:
        check_bounds(self)
        check_step_limits(self)
        return self

    # -- the configuration resolved into records (what the step's helpers take) --

    def budget(self, name: str) -> Budget:
        """The budget `name` with this deployment's limit and static timeout (unknown: error)."""
        return budget_named(name).configured(self.limits_mb, self.step_timeouts_s)

    @property
    def timeout_policy(self) -> TimeoutPolicy:
        """How step timeouts adapt, as one record."""
        # Each policy field is the resource's `timeout_<field>`.
        return TimeoutPolicy(
            **{f.name: getattr(self, f"timeout_{f.name}") for f in fields(TimeoutPolicy)}
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """How a step over its memory budget is retried, as one record."""
        return RetryPolicy(
            max_retries=self.max_memory_retries,
            headroom_mb=self.memory_retry_headroom_mb,
            factor=self.memory_retry_factor,
        )
