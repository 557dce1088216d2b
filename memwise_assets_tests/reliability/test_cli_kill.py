"""kill -9 of `dagster asset materialize` at step start-up and mid-run: the next plain CLI
backfill finds the dead run, fails it, frees its pool slot and succeeds without `memwise
doctor`; a step process never records pid 1 as its orchestrator nor outlives it for long."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from memwise_assets.memory.lifeline import recorded_processes, run_dir

DAGSTER = str(Path(sys.executable).with_name("dagster"))
YAML = Path(__file__).parents[2] / "memwise_assets" / "data" / "dagster.yaml"


def _home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(YAML, home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MEMWISE_LEDGER_DIR": str(tmp_path / "ledger"),
    }
    return home, env


def _materialize(env: dict[str, str], partitions: list[str], out: Path) -> subprocess.Popen:
    selection = (
        ["--partition", partitions[0]]
        if len(partitions) == 1
        else ["--partition-range", f"{partitions[0]}...{partitions[-1]}"]
    )
    return subprocess.Popen(
        [DAGSTER, "asset", "materialize", "-m", "memwise_assets.definitions"]
        + ["--select", "daily_bars", *selection],
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def _plain_backfill(env: dict[str, str], *partitions: str) -> None:
    """A plain `dagster asset materialize` of daily_bars, which must succeed on its own."""
    nxt = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "memwise_assets.definitions"]
        + ["--select", "daily_bars", *partitions],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
    )
    assert nxt.returncode == 0, (nxt.stdout + nxt.stderr)[-4000:]


def _wait(what: str, check, timeout_s: float = 180.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def _holder(instance: dg.DagsterInstance) -> str | None:
    info = instance.event_log_storage.get_concurrency_info("prices")
    return next(iter(info.active_run_ids), None)


def _step_recorded(memory_home: Path, run_id: str) -> bool:
    """Whether a step process (not only the orchestrator) recorded itself for the run."""
    return len(list(run_dir(memory_home, run_id).glob("*.json"))) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["step-start-up", "mid-run"])
def test_a_killed_cli_run_is_mended_by_the_next_plain_cli_backfill(
    tmp_path: Path, moment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, env = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    memory_home = home / "memwise"
    victim = _materialize(env, ["2024-01"], tmp_path / "victim.log")
    children: list[psutil.Process] = []
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            dead = _wait("the victim holding the prices slot", lambda: _holder(instance))
            if moment == "mid-run":
                _wait("its step process at work", lambda: _step_recorded(memory_home, dead))
            children = psutil.Process(victim.pid).children(recursive=True)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
    finally:
        if victim.poll() is None:
            victim.kill()
    # The step process ends with its orchestrator (at once, or as soon as it starts up).
    gone, alive = psutil.wait_procs(children, timeout=60)
    assert not alive, [p.pid for p in alive]
    for record in recorded_processes(run_dir(memory_home, dead)):
        assert record.pid != 1  # the true parent, never whoever adopted the orphan

    began = time.monotonic()
    _plain_backfill(env, "--partition-range", "2024-01...2024-03")
    assert time.monotonic() - began < 400
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(dead)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        failure = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert "every process of the run is gone" in failure[-1].message
        assert dead not in instance.event_log_storage.get_concurrency_run_ids()
        assert not instance.event_log_storage.get_concurrency_info("prices").active_run_ids
        done = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert len(done) == 1
        # The killed run stored nothing: its step never got to work, or died with it.
        stored = instance.all_logs(dead, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        assert moment == "mid-run" or not stored
    assert len(list((memory_home / "data" / "daily_bars").rglob("*.parquet"))) >= 3


_UNRECORDED = """
import os, sys, time
import dagster as dg

@dg.asset(pool="prices")
def hold_prices() -> int:
    open(sys.argv[1], "w").write(str(os.getpid()))
    time.sleep(600)
    return 1

with dg.DagsterInstance.get() as instance:
    dg.materialize([hold_prices], instance=instance)
"""


@pytest.mark.slow
def test_a_dead_run_without_memwise_records_is_judged_by_its_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed before it recorded anything (or run without the memory resource)."""
    home, env = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    pid_file = tmp_path / "holder.pid"
    holder = subprocess.Popen([sys.executable, "-c", _UNRECORDED, str(pid_file)], env=env)
    try:
        _wait("the holder at work", pid_file.exists)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            dead = _wait("the holder holding the prices slot", lambda: _holder(instance))
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    assert not run_dir(home / "memwise", dead).exists()  # nothing memwise could record
    _plain_backfill(env, "--partition", "2024-01")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(dead)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert dead not in instance.event_log_storage.get_concurrency_run_ids()


@pytest.mark.slow
def test_a_long_pool_wait_names_the_holder_and_the_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, env = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    env["MEMWISE_POOL_EXPLAIN_AFTER_S"] = "3"  # the minute, shortened
    # A live holder busy in its step (SIGSTOP could freeze it inside an event-log write,
    # locking the SQLite storage for everyone: not the case under test).
    pid_file = tmp_path / "holder.pid"
    holder = subprocess.Popen([sys.executable, "-c", _UNRECORDED, str(pid_file)], env=env)
    waiter: subprocess.Popen | None = None
    try:
        _wait("the holder at work", pid_file.exists)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            held = _wait("the holder holding the prices slot", lambda: _holder(instance))
        waiter = _materialize(env, ["2024-02"], tmp_path / "waiter.log")
        log = tmp_path / "waiter.log"
        _wait("the waiter explaining its wait", lambda: "blocked for over 3 s" in log.read_text())
        text = log.read_text()
        assert f"held by run {held[:8]}" in text and "waits for pool 'prices'" in text
        assert "dagster instance concurrency set prices" in text and "UI" in text
        assert waiter.poll() is None  # a live holder is never mended away
    finally:
        for proc in (waiter, holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_a_cli_killed_while_blocked_on_the_pool_never_inherits_the_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while queued for the slot: when the holder ends, Dagster hands the slot to the
    dead run's pending step; the next plain CLI run still gets through."""
    home, env = _home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    pid_file = tmp_path / "holder.pid"
    holder = subprocess.Popen([sys.executable, "-c", _UNRECORDED, str(pid_file)], env=env)
    victim: subprocess.Popen | None = None
    try:
        _wait("the holder at work", pid_file.exists)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            held = _wait("the holder holding the prices slot", lambda: _holder(instance))
            victim = _materialize(env, ["2024-01"], tmp_path / "victim.log")

            def queued() -> str | None:
                info = instance.event_log_storage.get_concurrency_info("prices")
                return next((s.run_id for s in info.pending_steps if s.run_id != held), None)

            dead = _wait("the victim queued for the slot", queued)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        holder.kill()  # the holder dies too; its slot goes to the queue
        holder.wait()
    finally:
        for proc in (victim, holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    _plain_backfill(env, "--partition", "2024-02")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in (dead, held):
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()
