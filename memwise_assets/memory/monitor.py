"""A memory monitor around a block of work: samples, stage marks, thresholds, emergency abort.

The abort is an exception raised in the monitored thread, so the step fails with a
clear message and its `finally` blocks run, instead of the kernel OOM-killing the run.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from memwise_assets.memory.probe import peak_rss_mb, reset_peak, tree_rss_probe

_log = logging.getLogger(__name__)

# reset_peak() is process-wide: monitors that are already running keep the kernel peak
# they would lose by folding it into their own carry before any reset.
_active_monitors: weakref.WeakSet[MemoryMonitor] = weakref.WeakSet()
_reset_lock = threading.Lock()


class MemoryLimitExceeded(Exception):
    """Memory stayed above the emergency threshold after cleanup; the step was aborted."""

    def __init__(
        self,
        message: str | None = None,
        *,
        stage: str | None = None,
        current_mb: float | None = None,
        limit_mb: float | None = None,
        peak_mb: float | None = None,
    ) -> None:
        self.stage = stage
        self.current_mb = current_mb
        self.limit_mb = limit_mb
        # The kernel's high-water mark: one big C allocation can pass the line between samples.
        self.peak_mb = peak_mb if peak_mb is not None else current_mb
        if message is None:
            message = (
                f"memory limit exceeded at stage {stage!r}: "
                f"{current_mb:.1f} MB in use, limit {limit_mb:.1f} MB"
            )
        super().__init__(message)


def _async_exception_class(
    monitor: MemoryMonitor,
    stage: str,
    current_mb: float,
    limit_mb: float,
    threshold_mb: float,
    peak_mb: float,
) -> type[MemoryLimitExceeded]:
    """A subclass carrying its figures: PyThreadState_SetAsyncExc can only raise a class."""
    if monitor.budget_mb is not None:
        line = (
            f"budget {monitor.budget_mb:.1f} MB above the {limit_mb - monitor.budget_mb:.1f} MB "
            f"start, i.e. line {limit_mb:.1f} MB"
        )
    else:
        line = f"limit {limit_mb:.1f} MB"
    message = (
        f"memory limit exceeded at stage {stage!r}: peak {peak_mb:.1f} MB (kernel high-water "
        f"mark), {current_mb:.1f} MB in use after cleanup; {line} (emergency threshold "
        f"{threshold_mb:.1f} MB)"
    )
    monitor_ref = weakref.ref(monitor)

    def __init__(self: MemoryLimitExceeded, *args: Any, **kwargs: Any) -> None:
        MemoryLimitExceeded.__init__(
            self, message, stage=stage, current_mb=current_mb, limit_mb=limit_mb, peak_mb=peak_mb
        )
        owner = monitor_ref()
        if owner is not None:
            owner._delivered = True

    return type("MemoryLimitExceeded", (MemoryLimitExceeded,), {"__init__": __init__})


def _set_async_exc(thread_id: int, exc_class: type[BaseException] | None) -> int:
    target = ctypes.py_object(exc_class) if exc_class is not None else None
    return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class MemoryMonitor:
    """Context manager that watches RSS while a block runs and reports `metrics()`.

    Warns at `warn_fraction` of `limit_mb`, logs an error at the limit, and at
    `emergency_fraction` runs the cleanup callbacks and `on_emergency`, then raises
    `MemoryLimitExceeded` in the thread that entered the block if memory is still high.
    """

    def __init__(
        self,
        limit_mb: float,
        interval_s: float = 0.05,
        warn_fraction: float = 0.8,
        emergency_fraction: float = 1.2,
        on_emergency: Callable[[], Any] | None = None,
        probe: Callable[[], float] | None = None,
        logger: logging.Logger | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        kernel_peak: bool | None = None,
        budget_mb: float | None = None,
    ) -> None:
        if not limit_mb > 0:
            raise ValueError(f"limit_mb must be > 0; got {limit_mb!r}")
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0; got {interval_s!r}")
        if not 0 < warn_fraction <= 1 <= emergency_fraction:
            raise ValueError(
                "fractions need 0 < warn_fraction <= 1 <= emergency_fraction; "
                f"got warn_fraction={warn_fraction}, emergency_fraction={emergency_fraction}"
            )
        self.limit_mb = float(limit_mb)
        # The configured budget this absolute line was set from (start RSS + budget), if any.
        self.budget_mb = budget_mb
        self.interval_s = float(interval_s)
        self.warn_mb = warn_fraction * self.limit_mb
        self.emergency_mb = emergency_fraction * self.limit_mb
        self.on_emergency = on_emergency
        # Default: RSS of this process and its children, cheap enough to sample at 20 Hz.
        self._probe = probe or tree_rss_probe()
        # An injected probe is a fake: mixing in this process's real VmHWM would make no sense.
        self._use_kernel_peak = probe is None if kernel_peak is None else kernel_peak
        self._log = logger or _log
        self._clock = clock
        self._cleanups: list[Callable[[], Any]] = [gc.collect]
        # Re-entrant: cleanup callbacks run under it and may call mark() or metrics().
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._samples: list[dict[str, Any]] = []
        self._initial = 0.0
        self._final: float | None = None
        self._sampled_peak = 0.0
        self._kernel_carry = 0.0
        self._kernel_ok = False
        self._kernel_live = False
        self._t0 = 0.0
        self._t_end: float | None = None
        self._stage = "start"
        self._above: set[str] = set()  # the levels (warn, limit, emergency) memory is at
        self._exceeded: MemoryLimitExceeded | None = None
        self._delivered = False
        self._closing = False
        self._target_thread = 0
        self.emergencies = 0

    def register_cleanup(self, fn: Callable[[], Any]) -> None:
        """Add a callback run at the emergency threshold before deciding to abort."""
        self._cleanups.append(fn)

    def __enter__(self) -> MemoryMonitor:
        self._reset_state()
        self._target_thread = threading.get_ident()
        if self._use_kernel_peak:
            with _reset_lock:
                carried = peak_rss_mb()
                for other in list(_active_monitors):
                    if other._kernel_live:
                        other._kernel_carry = max(other._kernel_carry, carried)
                self._kernel_ok = reset_peak()
                self._kernel_live = self._kernel_ok
                _active_monitors.add(self)
        self._t0 = self._clock()
        self._initial = self._probe()
        self._sampled_peak = self._initial
        self._record("start", self._initial)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="memwise-monitor", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._observe(self._probe())
            except Exception:  # a failing probe must not kill the monitor silently
                self._log.exception("memory probe failed")

    def _observe(self, value: float) -> None:
        with self._lock:
            self._sampled_peak = max(self._sampled_peak, value)
            self._check_thresholds(value)

    def _check_thresholds(self, value: float) -> None:
        if self._crossed("warn", value, self.warn_mb):
            self._log.warning(
                "memory at %.1f MB is %.0f%% of the %.1f MB limit (stage %s)",
                value,
                100.0 * value / self.limit_mb,
                self.limit_mb,
                self._stage,
            )
        if self._crossed("limit", value, self.limit_mb):
            self._log.error(
                "memory at %.1f MB is over the %.1f MB limit (stage %s)",
                value,
                self.limit_mb,
                self._stage,
            )
        if self._crossed("emergency", value, self.emergency_mb):
            self._emergency(value)

    def _crossed(self, level: str, value: float, level_mb: float) -> bool:
        """True when memory newly reaches a level: it acts once, and re-arms below it."""
        was_above = level in self._above
        if value >= level_mb:
            self._above.add(level)
        else:
            self._above.discard(level)
        return value >= level_mb and not was_above

    def _emergency(self, value: float) -> None:
        self.emergencies += 1
        self._log.error(
            "memory emergency: %.1f MB >= %.1f MB (stage %s); running %d cleanup callbacks",
            value,
            self.emergency_mb,
            self._stage,
            len(self._cleanups) + (self.on_emergency is not None),
        )
        callbacks = list(self._cleanups)
        if self.on_emergency is not None:
            callbacks.append(self.on_emergency)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                self._log.exception("memory cleanup callback %r failed", callback)
        after = self._probe()
        self._sampled_peak = max(self._sampled_peak, after)
        if after < self.emergency_mb:
            self._log.warning("cleanup brought memory back to %.1f MB", after)
            return
        peak = max(self._peak(), value, after)
        exc_class = _async_exception_class(
            self, self._stage, after, self.limit_mb, self.emergency_mb, peak
        )
        self._exceeded = exc_class()
        self._delivered = False
        self._log.error("%s; aborting the monitored thread", self._exceeded)
        # From mark() in the monitored thread itself the caller raises it synchronously.
        if not self._closing and threading.get_ident() != self._target_thread:
            _set_async_exc(self._target_thread, exc_class)

    def _pending_exception(self) -> MemoryLimitExceeded | None:
        """The emergency exception the monitored thread has not seen; cancels its async copy."""
        with self._lock:
            if self._exceeded is None or self._delivered:
                return None
            if threading.get_ident() == self._target_thread:
                _set_async_exc(self._target_thread, None)
            self._delivered = True
            return self._exceeded

    def mark(self, stage: str) -> dict[str, Any]:
        """Record a named sample; raises `MemoryLimitExceeded` if an emergency is pending."""
        pending = self._pending_exception()
        if pending is not None:
            raise pending
        value = self._probe()
        with self._lock:
            self._stage = stage
            self._sampled_peak = max(self._sampled_peak, value)
            sample = self._record(stage, value)
            self._check_thresholds(value)
        pending = self._pending_exception()
        if pending is not None:
            raise pending
        return sample

    def _record(self, stage: str, value: float) -> dict[str, Any]:
        peak = self._peak()
        sample = {
            "stage": stage,
            "memory_mb": round(value, 3),
            "delta_mb": round(value - self._initial, 3),
            "peak_mb": round(peak, 3),
            "within_limit": peak <= self.limit_mb,
        }
        self._samples.append(sample)
        return sample

    def _peak(self) -> float:
        peak = self._sampled_peak
        peak = max(peak, self._kernel_carry)
        if self._kernel_live:
            peak = max(peak, peak_rss_mb())
        return peak

    def _shutdown(self) -> None:
        with self._lock:
            self._closing = True
            if self._exceeded is not None and not self._delivered:
                _set_async_exc(self._target_thread, None)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        # An async exception already in flight may land inside this method; absorb it
        # here and raise it deliberately below, so it is neither lost nor raised twice.
        absorbed: MemoryLimitExceeded | None = None
        for _ in range(3):
            try:
                self._shutdown()
                break
            except MemoryLimitExceeded as caught:
                absorbed = caught
        final = self._probe()
        with self._lock:
            self._sampled_peak = max(self._sampled_peak, final)
            self._final = final
            self._t_end = self._clock()
            self._record("end", final)
            # The sampler may not have ticked since memory rose (a loaded machine, a short
            # block): the closing reading gets the same thresholds, so nothing slips out.
            if exc is None:
                self._check_thresholds(final)
        if self._use_kernel_peak:
            with _reset_lock:
                self._kernel_carry = self._peak()
                self._kernel_live = False
                _active_monitors.discard(self)
        if isinstance(exc, MemoryLimitExceeded):
            self._delivered = True
            return False
        if absorbed is not None:
            # Delivered while shutting down: it counts as seen only once it is raised.
            self._delivered = True
            raise absorbed from exc
        if self._exceeded is not None and not self._delivered:
            self._delivered = True
            raise self._exceeded from exc
        return False

    @property
    def peak_source(self) -> str:
        """Where the peak comes from: the kernel high-water mark or the sampler alone."""
        if not self._use_kernel_peak:
            return "sampler (injected probe)"
        return "vmhwm" if self._kernel_ok else "sampler (no peak reset)"

    def metrics(self) -> dict[str, Any]:
        """The memory figures of the block, in the structure DESIGN.md documents."""
        with self._lock:
            final = self._final if self._final is not None else self._probe()
            peak = max(self._peak(), final)
            end = self._t_end if self._t_end is not None else self._clock()
            minutes = max(end - self._t0, 0.0) / 60.0
            growth = (final - self._initial) / minutes if minutes > 0 else 0.0
            return {
                "initial_memory_mb": round(self._initial, 3),
                "peak_memory_mb": round(peak, 3),
                "final_memory_mb": round(final, 3),
                "memory_increase_mb": round(final - self._initial, 3),
                "max_memory_limit_mb": self.limit_mb,
                "within_limit": peak <= self.limit_mb,
                "peak_usage_percent": round(100.0 * peak / self.limit_mb, 3),
                "growth_rate_mb_per_min": round(growth, 3),
                "samples": [dict(sample) for sample in self._samples],
                "sample_count": len(self._samples),
                "peak_source": self.peak_source,
            }
