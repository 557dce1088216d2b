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

from memwise_assets_tests.builders import workers
from memwise_assets_tests.builders.processes import assert_gone_within, wait_for_file


@pytest.mark.slow
def test_killed_parents_isolated_child_is_gone_within_5_s(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = multiprocessing.get_context("spawn").Process(
        target=workers.isolated_parent, args=(str(pid_file),)
    )
    parent.start()
    wait_for_file(pid_file, 60.0, alive=parent.is_alive)
    child = psutil.Process(int(pid_file.read_text()))
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()
    assert_gone_within(child, 5, "the isolated child")


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
        wait_for_file(pid_file, 120.0, alive=lambda: parent.poll() is None)
        step = psutil.Process(int(pid_file.read_text()))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert_gone_within(step, 5, "the step subprocess")
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
