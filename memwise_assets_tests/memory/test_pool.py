"""WorkerPool with real workers: results, per-task timeout and cap, recycling, errors, leftovers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from memwise_assets.memory import IsolatedResult, WorkerPool
from memwise_assets_tests.builders import workers

_TAG: str | None = None
_INIT_CALLS = 0


def remember(tag: str) -> None:
    """Initializer: what a worker keeps warm between tasks."""
    global _TAG, _INIT_CALLS
    _TAG = tag
    _INIT_CALLS += 1


def broken_init() -> None:
    """Initializer that fails (a missing model, say)."""
    raise OSError("model en_core_missing is not installed")


def whoami() -> tuple[int, str | None, int]:
    """The worker's pid, its initializer's tag and how often the initializer ran in it."""
    return os.getpid(), _TAG, _INIT_CALLS


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE and (
            psutil.Process(pid).ppid() != os.getpid()
        )
    except psutil.NoSuchProcess:
        return True


def test_results_come_back_and_the_initializer_runs_once_per_worker() -> None:
    with WorkerPool(workers=2, initializer=remember, initargs=("warm",)) as pool:
        sums = [pool.submit(workers.add, i, b=10, timeout_s=30) for i in range(6)]
        who = [pool.submit(whoami, timeout_s=30).result().value for _ in range(4)]
        pids = pool.pids
    results = [f.result() for f in sums]
    assert [r.value for r in results] == [10, 11, 12, 13, 14, 15]
    assert all(r.status == "ok" and r.error is None and r.peak_mb > 5 for r in results)
    assert {pid for pid, _, _ in who} <= set(pids) and len(pids) == 2
    assert all(tag == "warm" and calls == 1 for _, tag, calls in who)
    assert workers.our_descendants() == []


def test_a_task_past_its_timeout_is_killed_and_the_next_one_runs(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with WorkerPool(workers=1) as pool:
        first_pid = pool.submit(whoami, timeout_s=30).result().value[0]
        started = time.monotonic()
        slow = pool.submit(
            workers.spawn_grandchild_and_sleep, str(pid_file), 60, timeout_s=1.0
        ).result()
        elapsed = time.monotonic() - started
        after = pool.submit(whoami, timeout_s=30).result()
        assert pool.workers_started == 2
    assert (slow.status, slow.value) == ("timeout", None)
    assert "1.0 s timeout" in slow.error and 1.0 <= slow.seconds < 2.0 and elapsed < 4.0
    # The worker and the grandchild it started are gone; a fresh worker served the next task.
    assert _gone(first_pid) and _gone(int(pid_file.read_text()))
    assert after.status == "ok" and after.value[0] != first_pid
    assert workers.our_descendants() == []


def test_a_task_over_its_memory_cap_is_killed_and_peaks_are_per_task() -> None:
    with WorkerPool(workers=1) as pool:
        big = pool.submit(workers.allocate_mb, 300, timeout_s=30).result()
        small = pool.submit(workers.add, 1, 2, timeout_s=30).result()
        capped = pool.submit(workers.allocate_mb, 2000, timeout_s=30, memory_cap_mb=150).result()
        after = pool.submit(workers.add, 2, 2, timeout_s=30).result()
    assert big.status == "ok" and big.peak_mb > 300
    # The high-water mark is reset per task: the small task does not inherit the 300 MB.
    assert small.status == "ok" and small.peak_mb < 100
    assert capped.status == "memory" and capped.value is None
    assert "150.0 MB cap" in capped.error and 150 < capped.peak_mb < 1000
    assert (after.status, after.value) == ("ok", 4)
    assert workers.our_descendants() == []


def test_workers_are_recycled_after_max_tasks() -> None:
    pool = WorkerPool(workers=1, max_tasks_per_worker=2, initializer=remember, initargs=("r",))
    with pool:
        who = [pool.submit(whoami, timeout_s=30).result().value for _ in range(5)]
        assert pool.workers_started == 3
    pids = [pid for pid, _, _ in who]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] and pids[0] != pids[4]
    # Each new worker ran the initializer once: warm state survives within a worker only.
    assert [calls for _, _, calls in who] == [1, 1, 1, 1, 1]
    assert all(_gone(pid) for pid in pids)


def test_exceptions_come_back_as_error_text_and_keep_the_worker() -> None:
    with WorkerPool(workers=1) as pool:
        before = pool.submit(whoami, timeout_s=30).result().value[0]
        failed = pool.submit(workers.fail, "bad filing 0001", timeout_s=30).result()
        exited = pool.submit(workers.exit_hard, 3, timeout_s=30).result()
        after = pool.submit(whoami, timeout_s=30).result().value[0]
    assert failed.status == "error" and failed.value is None
    assert failed.error.startswith("ValueError: bad filing 0001") and "in fail" in failed.error
    # A worker that dies without an answer is an error too, and is replaced.
    assert (exited.status, exited.error) == (
        "error",
        "child exited with code 3 without returning a result",
    )
    assert before != after


def test_worker_killed_while_idle_is_replaced_without_failing_a_task() -> None:
    with WorkerPool(workers=1) as pool:
        pid = pool.submit(whoami, timeout_s=30).result().value[0]
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        result = pool.submit(workers.add, 20, 22, timeout_s=30).result()
    assert (result.status, result.value) == ("ok", 42)


def test_initializer_failure_is_reported_on_the_task() -> None:
    with WorkerPool(workers=1, initializer=broken_init) as pool:
        result = pool.submit(workers.add, 1, 1, timeout_s=30).result()
    assert result.status == "error"
    assert "initializer failed" in result.error and "en_core_missing" in result.error
    assert workers.our_descendants() == []


def test_close_stops_every_worker_and_refuses_new_work() -> None:
    pool = WorkerPool(workers=2)
    futures = [pool.submit(workers.sleep_for, 0.2, timeout_s=30) for _ in range(4)]
    pool.close()
    assert [f.result().value for f in futures] == ["woke up"] * 4
    assert pool.pids == [] and workers.our_descendants() == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(workers.add, 1, 2, timeout_s=5)
    pool.close()  # twice is fine


def test_close_with_kill_stops_running_tasks_at_once() -> None:
    pool = WorkerPool(workers=1)
    assert pool.submit(workers.add, 1, 1, timeout_s=30).result().value == 2
    running = pool.submit(workers.sleep_for, 60, timeout_s=120)
    queued = pool.submit(workers.add, 1, 2, timeout_s=30)
    time.sleep(0.3)
    started = time.monotonic()
    pool.close(kill=True)
    assert time.monotonic() - started < 5
    result = running.result()
    assert result.status == "error" and "closed with kill=True" in result.error
    assert queued.cancelled()
    assert pool.pids == [] and workers.our_descendants() == []


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="workers"):
        WorkerPool(workers=0)
    with pytest.raises(ValueError, match="max_tasks_per_worker"):
        WorkerPool(max_tasks_per_worker=0)
    with pytest.raises(TypeError, match="initializer"):
        WorkerPool(initializer=lambda: None)
    with WorkerPool(workers=1) as pool:
        with pytest.raises(TypeError, match="importable function"):
            pool.submit(lambda: 1, timeout_s=5)
        with pytest.raises(ValueError, match="timeout_s"):
            pool.submit(workers.add, 1, 2, timeout_s=0)
        with pytest.raises(ValueError, match="memory_cap_mb"):
            pool.submit(workers.add, 1, 2, timeout_s=5, memory_cap_mb=-1)
    assert isinstance(IsolatedResult("ok", 1, None, 1.0, 0.1), IsolatedResult)
