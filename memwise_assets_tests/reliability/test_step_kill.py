"""A step SIGKILLed mid-run (as the OOM killer would): retried, outputs intact, cache purged."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.defs.automation import purge_cache_on_failure
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import MemoryLedger
from memwise_assets_tests.builders.processes import wait_for_file
from memwise_assets_tests.reliability.toy_jobs import kill_job


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _executioner(control: Path, kill: set[int], killed: list[int]) -> threading.Thread:
    """Kill the listed attempts of the victim step with SIGKILL, release the others."""

    def run() -> None:
        for attempt in range(2):
            pid_file = control / f"attempt-{attempt}.pid"
            try:
                wait_for_file(pid_file, 90.0)
            except TimeoutError:
                return
            if attempt in kill:
                time.sleep(0.2)  # let it sit on its reservation and scratch for a moment
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            else:
                (control / f"release-{attempt}").touch()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _run(instance: dg.DagsterInstance, control: Path, kill: set[int], selection=None):
    control.mkdir()
    killed: list[int] = []
    thread = _executioner(control, kill, killed)
    result = dg.execute_job(
        dg.reconstructable(kill_job),
        instance=instance,
        run_config={"ops": {"victim": {"config": {"control_dir": str(control)}}}},
        asset_selection=selection,
        raise_on_error=False,
    )
    thread.join(timeout=5)
    return result, killed


@pytest.mark.slow
def test_killed_step_is_retried_then_a_dead_run_is_purged(
    dagster_home: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    home = dagster_home / "memwise"
    data = home / "data"
    with dg.DagsterInstance.get() as instance:
        # Run 1: the victim's first attempt is SIGKILLed; the retry policy re-runs it.
        first, killed = _run(instance, tmp_path / "run1", kill={0})
        assert first.success and len(killed) == 1
        crash = [e.message for e in first.all_events if e.event_type_value == "ENGINE_EVENT"]
        assert any("step victim was terminated by signal 9 (SIGKILL)" in m for m in crash), crash
        retried = [e for e in first.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        assert [e.step_key for e in retried] == ["victim"]
        stored = pd.read_parquet(data / "victim.parquet")
        assert stored["v"].iloc[-1] == pytest.approx(2.0 + 1)  # written by attempt 1
        before = {name: _digest(data / f"{name}.parquet") for name in ("steady", "victim")}
        # The killed attempt's scratch went with the retry's purge of the same step folder.
        assert not [p for p in (home / "cache").rglob("*") if p.is_file()]
        ledger = MemoryLedger(home / "ledger", pool_mb=1)
        assert ledger.snapshot() == []
        reclaimed = [e for e in ledger.history() if e["event"] == "reclaim"]
        assert [e["pid"] for e in reclaimed] == killed

        # Run 2: both attempts killed, the run fails; stored outputs must not move.
        second, killed = _run(
            instance, tmp_path / "run2", kill={0, 1}, selection=[dg.AssetKey("victim")]
        )
        assert not second.success and len(killed) == 2
        assert {n: _digest(data / f"{n}.parquet") for n in before} == before
        assert not list(data.glob(".*.tmp"))
        leftover = home / "cache" / second.run_id
        assert sorted(p.name for p in leftover.rglob("*.bin")) == ["scratch-0.bin", "scratch-1.bin"]

        # The run-failure sensor purges what the dead run left behind, and says so.
        run = instance.get_run_by_id(second.run_id)
        failure = next(e for e in second.all_events if e.event_type_value == "PIPELINE_FAILURE")
        with (
            dg.build_run_status_sensor_context(
                sensor_name=purge_cache_on_failure.name,
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=run,
                resources={"memory": MemoryResource()},
            ) as context,
            caplog.at_level(logging.INFO),
        ):
            capfd.readouterr()
            purge_cache_on_failure(context.for_run_failure())
        assert not leftover.exists()
        # The sensor's own line goes through Dagster's handler (stderr), the toolkit's to caplog.
        assert f"run {second.run_id} failed: purged 2 cache files" in capfd.readouterr().err
        assert any(f"purged cache {leftover}: 2 files" in r.getMessage() for r in caplog.records)
