"""No child outlives its parent: isolated items and step subprocesses die with their parent."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
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


ORCHESTRATOR = """
import sys
import dagster as dg
from memwise_assets_tests.reliability.toy_jobs import kill_job
with dg.DagsterInstance.get() as instance:
    dg.execute_job(dg.reconstructable(kill_job), instance=instance,
        run_config={"ops": {"victim": {"config": {"control_dir": sys.argv[1]}}}})
"""


@pytest.mark.slow
def test_killed_orchestrators_step_subprocess_is_gone_within_5_s(
    dagster_home: Path, tmp_path: Path
) -> None:
    control = tmp_path / "control"
    control.mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", ORCHESTRATOR, str(control)],
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid_file = control / "attempt-0.pid"
        deadline = time.monotonic() + 120
        while not pid_file.exists():
            assert time.monotonic() < deadline and parent.poll() is None, "victim never ran"
            time.sleep(0.05)
        step = psutil.Process(int(pid_file.read_text()))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs([step], timeout=5)
        for proc in alive:
            proc.kill()
        assert not alive, "the step subprocess outlived its killed orchestrator by over 5 s"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_reservation_outlives_its_dead_holder_until_its_children_are_gone(
    tmp_path: Path,
) -> None:
    from memwise_assets.memory import MemoryLedger
    from memwise_assets.memory.lifeline import HOLDER_ENV, holder_token

    # A holder that reserved, started a child carrying its identity, and was SIGKILLed.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    token = holder_token(holder.pid)
    start = psutil.Process(holder.pid).create_time()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, HOLDER_ENV: token},
    )
    ledger = MemoryLedger(tmp_path, pool_mb=1000, available_fn=lambda: 1e12)
    ledger._conn().execute(
        "INSERT INTO reservations (id, label, mb, pid, pstart, since) VALUES (?, ?, ?, ?, ?, ?)",
        ("token-1", "killed-holder", 500, holder.pid, start, time.time()),
    )
    holder.kill()
    holder.wait()
    try:
        assert ledger.reclaim_dead() == []  # its child may still use the memory
        assert ledger.reserved_mb() == 500
    finally:
        child.kill()
        child.wait()
    time.sleep(0.6)  # past the ledger's orphan-check cache
    assert [r["label"] for r in ledger.reclaim_dead()] == ["killed-holder"]
