"""No child outlives its parent: an isolated item dies with its killed step process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from memwise_assets_tests.memory import workers


@pytest.mark.slow
def test_killed_parents_isolated_child_is_gone_within_5_s(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = multiprocessing.get_context("spawn").Process(
        target=workers.isolated_parent, args=(str(pid_file),)
    )
    parent.start()
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the isolated child never started"
        time.sleep(0.02)
    child = psutil.Process(int(pid_file.read_text()))
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()
    gone, alive = psutil.wait_procs([child], timeout=5)
    for proc in alive:
        proc.kill()
    assert not alive, "the isolated child outlived its killed parent by more than 5 s"
