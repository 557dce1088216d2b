"""MemoryMonitor: thresholds, cleanup and abort with a fake probe; real peaks with real memory."""

from __future__ import annotations

import gc
import logging
import threading
import time

import numpy as np
import pytest

from memwise_assets.memory import MemoryLimitExceeded, MemoryMonitor
from memwise_assets_tests.builders.clock import FakeClock

# The background sampler never fires within a test at this interval: marks drive it.
NEVER = 3600.0


class FakeProbe:
    """Returns whatever the test sets, and counts how often it was read."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.value


def test_metrics_structure_and_values_are_exact() -> None:
    probe, clock = FakeProbe(100.0), FakeClock()
    with MemoryMonitor(1000, interval_s=NEVER, probe=probe, clock=clock) as monitor:
        probe.value = 300.0
        monitor.mark("load")
        probe.value = 250.0
        monitor.mark("transform")
        probe.value = 200.0
        clock.now = 120.0
    assert monitor.metrics() == {
        "initial_memory_mb": 100.0,
        "peak_memory_mb": 300.0,
        "final_memory_mb": 200.0,
        "memory_increase_mb": 100.0,
        "max_memory_limit_mb": 1000.0,
        "within_limit": True,
        "peak_usage_percent": 30.0,
        "growth_rate_mb_per_min": 50.0,
        "samples": [
            {
                "stage": "start",
                "memory_mb": 100.0,
                "delta_mb": 0.0,
                "peak_mb": 100.0,
                "within_limit": True,
            },
            {
                "stage": "load",
                "memory_mb": 300.0,
                "delta_mb": 200.0,
                "peak_mb": 300.0,
                "within_limit": True,
            },
            {
                "stage": "transform",
                "memory_mb": 250.0,
                "delta_mb": 150.0,
                "peak_mb": 300.0,
                "within_limit": True,
            },
            {
                "stage": "end",
                "memory_mb": 200.0,
                "delta_mb": 100.0,
                "peak_mb": 300.0,
                "within_limit": True,
            },
        ],
        "sample_count": 4,
        "peak_source": "sampler (injected probe)",
    }


def test_warning_and_error_are_logged_once_per_crossing(caplog) -> None:
    probe = FakeProbe(100.0)
    caplog.set_level(logging.WARNING, logger="memwise_assets.memory.monitor")
    with MemoryMonitor(1000, interval_s=NEVER, probe=probe) as monitor:
        for value in (790.0, 800.0, 850.0, 1000.0, 1100.0, 500.0, 900.0):
            probe.value = value
            monitor.mark(f"at-{value:.0f}")
    levels = [(r.levelname, r.getMessage().split(" (stage")[0]) for r in caplog.records]
    assert levels == [
        ("WARNING", "memory at 800.0 MB is 80% of the 1000.0 MB limit"),
        ("ERROR", "memory at 1000.0 MB is over the 1000.0 MB limit"),
        ("WARNING", "memory at 900.0 MB is 90% of the 1000.0 MB limit"),
    ]
    metrics = monitor.metrics()
    assert (metrics["within_limit"], metrics["peak_usage_percent"]) == (False, 110.0)
    assert [s["within_limit"] for s in metrics["samples"]][:6] == [True] * 5 + [False]


def test_emergency_runs_cleanups_and_carries_on_when_they_help() -> None:
    probe = FakeProbe(100.0)
    calls: list[str] = []

    def free_cache() -> None:
        calls.append("cleanup")
        probe.value = 400.0

    with MemoryMonitor(
        1000, interval_s=NEVER, probe=probe, on_emergency=lambda: calls.append("on_emergency")
    ) as monitor:
        monitor.register_cleanup(free_cache)
        probe.value = 1250.0
        monitor.mark("spike")
        monitor.mark("after")
    assert calls == ["cleanup", "on_emergency"]
    assert monitor.emergencies == 1
    assert gc.collect in monitor._cleanups
    assert monitor.metrics()["peak_memory_mb"] == 1250.0


def test_emergency_that_cleanup_cannot_fix_raises_at_mark() -> None:
    probe = FakeProbe(100.0)
    with pytest.raises(MemoryLimitExceeded) as caught:
        with MemoryMonitor(1000, interval_s=NEVER, probe=probe) as monitor:
            probe.value = 1300.0
            monitor.mark("parse")
    error = caught.value
    assert (error.stage, error.current_mb, error.limit_mb) == ("parse", 1300.0, 1000.0)
    assert "'parse'" in str(error) and "1300.0 MB" in str(error) and "1000.0 MB" in str(error)


def _spin_until(deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pass


def test_background_sampler_aborts_the_monitored_main_thread() -> None:
    probe = FakeProbe(100.0)
    started = time.monotonic()
    with pytest.raises(MemoryLimitExceeded) as caught:
        with MemoryMonitor(1000, interval_s=0.01, probe=probe) as monitor:
            monitor.mark("busy")
            probe.value = 5000.0
            _spin_until(5.0)  # pure Python: the async exception lands here
    assert time.monotonic() - started < 2.0
    assert (caught.value.stage, caught.value.current_mb) == ("busy", 5000.0)


def test_abort_lands_in_a_worker_thread_not_in_the_main_thread() -> None:
    probe = FakeProbe(100.0)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            with MemoryMonitor(1000, interval_s=0.01, probe=probe, emergency_fraction=1.0):
                probe.value = 1000.0
                _spin_until(5.0)
            outcome["error"] = None
        except MemoryLimitExceeded as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(10)
    assert isinstance(outcome["error"], MemoryLimitExceeded)
    assert outcome["error"].limit_mb == 1000.0


def test_emergency_during_blocking_call_is_raised_on_exit() -> None:
    probe = FakeProbe(100.0)
    with pytest.raises(MemoryLimitExceeded):
        with MemoryMonitor(1000, interval_s=0.01, probe=probe):
            probe.value = 2000.0
            time.sleep(0.2)  # C code: the exception waits for the next bytecode or __exit__


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="limit_mb"):
        MemoryMonitor(0)
    with pytest.raises(ValueError, match="warn_fraction"):
        MemoryMonitor(100, warn_fraction=1.5)


def test_real_peak_includes_a_freed_800_mb_allocation() -> None:
    with MemoryMonitor(limit_mb=64_000) as monitor:
        block = np.ones(800 * 1024 * 1024 // 8)
        assert block[-1] == 1.0
        del block
    metrics = monitor.metrics()
    assert metrics["peak_memory_mb"] - metrics["initial_memory_mb"] >= 750.0
    assert metrics["final_memory_mb"] - metrics["initial_memory_mb"] < 200.0
    assert metrics["within_limit"] is True


def test_real_monitor_in_a_worker_thread_records_marks() -> None:
    result: dict[str, object] = {}

    def work() -> None:
        with MemoryMonitor(limit_mb=64_000, interval_s=0.01) as monitor:
            block = np.ones(200 * 1024 * 1024 // 8)
            monitor.mark("allocated")
            del block
            monitor.mark("freed")
        result["metrics"] = monitor.metrics()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(30)
    metrics = result["metrics"]
    assert [s["stage"] for s in metrics["samples"]] == ["start", "allocated", "freed", "end"]
    assert metrics["samples"][1]["delta_mb"] >= 190.0
    assert metrics["peak_memory_mb"] - metrics["initial_memory_mb"] >= 190.0


def test_emergency_delivered_while_the_monitor_shuts_down_is_still_raised(monkeypatch) -> None:
    """The async exception may land inside __exit__ itself: it must not be swallowed there."""
    probe = FakeProbe(100.0)
    monitor = MemoryMonitor(1000, interval_s=10.0, probe=probe)
    real_shutdown = monitor._shutdown
    calls = []

    def shutdown_hit_by_the_async_exception() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise MemoryLimitExceeded(
                "landed in __exit__", stage="s", current_mb=2000, limit_mb=1000
            )
        real_shutdown()

    monkeypatch.setattr(monitor, "_shutdown", shutdown_hit_by_the_async_exception)
    with pytest.raises(MemoryLimitExceeded, match="landed in __exit__"):
        with monitor:
            pass
    assert len(calls) == 2
