"""The deadline: C calls, pure-Python loops and other threads interrupted; GIL holders killed."""

import ctypes
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from memwise_assets.memory.deadline import Deadline, StepTimeout
from memwise_assets.memory.limits import choose_timeout, raised_budget_mb

_LIBC = ctypes.CDLL(None)


def test_a_sleep_inside_a_c_call_is_interrupted_with_the_timeout_and_basis() -> None:
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=r"timeout of 1.0 s \(basis: static\)") as caught:
        with Deadline(1.0, basis="static", label="sleeper"):
            _LIBC.sleep(30)
    assert time.monotonic() - started < 5, "within a few seconds of the deadline"
    assert caught.value.timeout_s == 1.0 and caught.value.elapsed_s >= 1.0


def test_a_pure_python_loop_in_another_thread_is_interrupted() -> None:
    caught: list[BaseException] = []

    def spin() -> None:
        try:
            with Deadline(0.5, basis="override"):
                while True:
                    sum(range(100))
        except StepTimeout as exc:
            caught.append(exc)

    worker = threading.Thread(target=spin)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and "basis: override" in str(caught[0])


def test_a_swallowed_timeout_comes_back() -> None:
    swallowed = 0
    with pytest.raises(StepTimeout):
        with Deadline(0.3):
            while True:
                try:
                    time.sleep(10)
                except StepTimeout:
                    swallowed += 1
                    if swallowed > 1:
                        raise
    assert swallowed == 2


def test_a_block_that_ends_in_time_is_left_alone() -> None:
    with Deadline(0.5):
        time.sleep(0.05)
    time.sleep(0.8)  # a late delivery would raise here


def test_a_process_stuck_in_a_gil_holding_call_is_killed_after_the_grace(tmp_path) -> None:
    note = tmp_path / "note.json"
    script = textwrap.dedent(
        f"""
        import ctypes
        from pathlib import Path
        from memwise_assets.memory.deadline import Deadline
        with Deadline(1.0, grace_s=1.0, kill_process=True, note_path=Path({str(note)!r})):
            ctypes.PyDLL(None).sleep(60)  # PyDLL keeps the GIL: no thread of it can run
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], timeout=30)
    assert done.returncode == -9 and time.monotonic() - started < 15
    assert "holds the GIL" in json.loads(note.read_text())["message"]


def test_timeout_choice_static_then_adaptive_and_override_wins() -> None:
    static = choose_timeout(static_s=600, seconds_history=[1.0] * 3, min_history=5)
    assert (static.seconds, static.basis) == (600, "static")
    adaptive = choose_timeout(
        static_s=600, seconds_history=[10.0] * 9 + [40.0], floor_s=5, k=3, margin=1.5
    )
    assert adaptive.basis == "adaptive" and adaptive.seconds == pytest.approx(
        max(5, 3 * 10.0, 1.5 * 37.3), rel=0.01
    )
    assert "3 x median 10.00 s" in adaptive.describe()
    override = choose_timeout(static_s=600, seconds_history=[], override_s=7, override_source="x")
    assert (override.seconds, override.basis) == (7, "override")


def test_raised_budget_follows_the_vpa_rule_with_a_larger_factor() -> None:
    assert raised_budget_mb(100) == 200  # peak + 100 MB beats 1.5 x peak for small steps
    assert raised_budget_mb(1000) == 1500
