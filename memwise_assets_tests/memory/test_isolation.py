"""run_isolated with real child processes: ok, timeout, RSS cap, errors, and no leftovers."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pytest

from memwise_assets.memory import IsolatedResult, run_isolated
from memwise_assets.memory.process_tree import classify_death, oom_kills
from memwise_assets_tests.builders import workers


def _assert_dead(pid: int) -> None:
    """Gone, or a zombie already handed to init (which reaps on its own schedule)."""
    try:
        proc = psutil.Process(pid)
        assert proc.status() == psutil.STATUS_ZOMBIE and proc.ppid() != psutil.Process().pid
    except psutil.NoSuchProcess:
        pass


def test_value_comes_back() -> None:
    result = run_isolated(workers.add, 2, b=40, timeout_s=30)
    assert (result.status, result.value, result.error) == ("ok", 42, None)
    assert result.peak_mb > 5.0 and result.seconds > 0
    assert workers.our_descendants() == []


def test_timeout_kills_a_sleeping_child_quickly() -> None:
    started = time.monotonic()
    result = run_isolated(workers.sleep_for, 60, timeout_s=1.0)
    assert time.monotonic() - started < 3.0
    assert (result.status, result.value) == ("timeout", None)
    assert "1.0 s timeout" in result.error
    assert workers.our_descendants() == []


@pytest.mark.slow
def test_allocation_over_the_cap_comes_back_as_memory() -> None:
    result = run_isolated(workers.allocate_mb, 2048, timeout_s=30, memory_cap_mb=500)
    assert result.status == "memory"
    assert result.peak_mb > 500.0 and "500.0 MB cap" in result.error
    assert workers.our_descendants() == []


def test_exception_comes_back_with_type_message_and_traceback() -> None:
    result = run_isolated(workers.fail, "bad filing 0001", timeout_s=30)
    assert result.status == "error" and result.value is None
    assert result.error.startswith("ValueError: bad filing 0001")
    assert "workers.py" in result.error and "in fail" in result.error


def test_child_exiting_without_result_is_an_error() -> None:
    result = run_isolated(workers.exit_hard, 3, timeout_s=30)
    assert (result.status, result.error) == (
        "error",
        "child exited with code 3 without returning a result",
    )


def test_grandchild_is_killed_with_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    result = run_isolated(workers.spawn_grandchild_and_sleep, str(pid_file), 60, timeout_s=2.0)
    assert result.status == "timeout"
    _assert_dead(int(pid_file.read_text()))
    assert workers.our_descendants() == []


def test_grandchild_left_running_by_a_finished_item_is_cleaned_up(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    result = run_isolated(workers.spawn_grandchild_and_return, str(pid_file), timeout_s=30)
    assert (result.status, result.value) == ("ok", "done")
    _assert_dead(int(pid_file.read_text()))
    assert workers.our_descendants() == []


def test_unpicklable_function_and_bad_parameters_are_refused() -> None:
    with pytest.raises(TypeError, match="importable function"):
        run_isolated(lambda: 1, timeout_s=5)
    with pytest.raises(ValueError, match="timeout_s"):
        run_isolated(workers.add, 1, 2, timeout_s=0)
    with pytest.raises(ValueError, match="memory_cap_mb"):
        run_isolated(workers.add, 1, 2, timeout_s=5, memory_cap_mb=-1)
    assert IsolatedResult("ok", 1, None, 1.0, 0.1).ok


def test_death_by_signal_is_an_error_unless_it_looks_like_the_oom_killer() -> None:
    result = run_isolated(workers.kill_self, signal.SIGKILL, timeout_s=30, memory_cap_mb=4000)
    assert (result.status, result.error) == ("error", "child killed by signal SIGKILL")
    # A SIGKILL we did not send, with the child near its cap, is the kernel's OOM killer.
    oom = classify_death(-signal.SIGKILL, 500.0, 480.0, oom_kills(), 1.0)
    assert oom.status == "memory" and "OOM killer" in oom.error
    term = classify_death(-signal.SIGTERM, 500.0, 480.0, oom_kills(), 1.0)
    assert (term.status, term.error) == ("error", "child killed by signal SIGTERM")
