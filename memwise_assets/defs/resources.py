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
from pydantic import PrivateAttr

from memwise_assets.defs import step_limits
from memwise_assets.defs.budgets import FILING_ITEM_BASE_MB, FILING_ITEM_PER_INPUT_MB
from memwise_assets.defs.calibration import (
    Estimate,
    calibrated_estimate,
    history_for,
    record_failed_peak,
)
from memwise_assets.defs.home_and_size import memwise_home
from memwise_assets.defs.resource_config import MemoryConfig
from memwise_assets.defs.step import StepContext, StepMemory
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
from memwise_assets.memory.cache import safe_name
from memwise_assets.memory.host import host_pool_mb
from memwise_assets.memory.ledger_file import default_ledger_dir
from memwise_assets.memory.lifeline import start_run_lifeline


class MemoryResource(MemoryConfig):
    """Memory admission, per-item timeouts, monitoring and session caches for every step."""

    _ledger: MemoryLedger | None = PrivateAttr(default=None)

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
            # A host's own pool ($MEMWISE_POOL_MB) applies unless the run sets one.
            pool_mb = self.pool_mb if self.pool_mb is not None else host_pool_mb()
            self._ledger = MemoryLedger(
                self.ledger_location, pool_mb=pool_mb, reserve_fraction=self.reserve_fraction
            )
        return self._ledger

    def session_cache(self, run_id: str) -> SessionCache:
        """The session cache of one run (one subfolder per step)."""
        return SessionCache(self.cache_root, run_id)

    # -- the pieces assets use ----------------------------------------------------------

    def limit_for(self, budget: str) -> float:
        """Memory in MB a step of this budget may add above its start (unknown: an error)."""
        return self.budget(budget).limit_mb

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
        asset_key: dg.AssetKey | None,
        input_mb: float,
        static_mb: float,
        history: list[tuple[float, float]] | None = None,
    ) -> Estimate:
        """The admission estimate: static until enough history, then the calibrated fit.

        `history` saves the event-log read when many items of one step share it; a step
        with no asset (`asset_key` None, an op) has none.
        """
        if history is None:
            history = self.history(instance, asset_key) if asset_key else []
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
        context: StepContext,
        *,
        budget: str,
        input_mb: float = 0.0,
        static_estimate_mb: float | None = None,
        include_children: bool = True,
    ) -> Iterator[StepMemory]:
        """Estimate, admit and monitor one step, for the whole `with` block.

        The asset yields `step.output(value)` inside the block: Dagster runs the IO manager
        right there (the write, the step's figures, the cache purge), then the asset yields
        its check results, still inside; the reservation and the monitor are released when
        the block ends, whether it ends normally or by an exception, and the step is closed
        (an output of it yielded later is refused). `static_estimate_mb` overrides the
        budget's size formula (before calibration).
        """
        spec = self.budget(budget)  # resolved once: the helpers below take the record
        limit_mb = spec.limit_mb
        if static_estimate_mb is None:
            static_estimate_mb = spec.static_estimate(input_mb)
        static_mb = min(static_estimate_mb, limit_mb)
        # An op (not an asset) has no materializations to calibrate from: its static rule.
        asset_key = context.asset_key if context.has_assets_def else None
        estimate = self.estimate(context.instance, asset_key, input_mb, static_mb)
        # A retry after MemoryLimitExceeded runs, and is admitted, with a raised budget.
        limit_mb, raise_reason = step_limits.retry_budget(
            context, limit_mb, self.home, self.retry_policy
        )
        if raise_reason:
            estimate = Estimate(limit_mb, "memory-retry", {"reason": raise_reason})
        timeout = step_limits.step_timeout(
            context, spec, self.timeout_policy, self.timeout_overrides_s
        )
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
            if state is not None and asset_key and not isinstance(failure, GeneratorExit):
                record_failed_peak(context, state.metrics(), failure)
            raise

    def _block_failure(
        self, context: StepContext, state: StepMemory, exc: BaseException
    ) -> BaseException:
        """An error raised while the IO manager consumes the step's blocks (outside the
        asset's frame): recorded and turned into the step's failure as inside `step()`."""
        if context.has_assets_def:
            record_failed_peak(context, state.metrics(), exc)
        return self._failure_for(context, state, exc) or exc

    def _failure_for(
        self, context: StepContext, state: StepMemory, exc: BaseException
    ) -> BaseException | None:
        """The failure to raise instead of `exc` (None: `exc` itself), from the step's state."""
        return step_limits.failure_for(
            context,
            exc,
            step_key=state.step_key,
            limit_mb=state.limit_mb,
            metrics=state.metrics(),
            home=self.home,
            retry=self.retry_policy,
            pool_mb=float(self.ledger.pool_mb),
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Which processes run this run, so a run killed with them is found and mended.
        if context.dagster_run is not None:
            start_run_lifeline(self.home, context.dagster_run.run_id)

    @contextmanager
    def _step_block(
        self,
        context: StepContext,
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
            stack.enter_context(
                step_limits.step_deadline(context, timeout, cache, self.home, self.timeout_grace_s)
            )
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
            state.failure = lambda exc: self._block_failure(context, state, exc)
            try:
                yield state
            except BaseException as exc:
                failure = self._failure_for(context, state, exc)
                if failure is None:
                    raise
                raise failure from exc
            finally:
                # Closed before the release: an output yielded from here on is refused.
                state.is_open = False


def _own_rss_mb() -> float:
    return current_rss_mb(include_children=False)
