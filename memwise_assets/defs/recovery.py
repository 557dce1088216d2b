"""Runs whose processes are gone: found, marked failed, their pool slots and caches freed.

A run killed with SIGKILL (or by the OOM killer) stays STARTED in Dagster and keeps its
concurrency-pool slot, so every later run of that pool waits for ever. Each process that
runs memwise steps writes its identity (host, pid, start time, and the orchestrating
process) under `<memwise home>/runs/<run_id>/` when the memory resource starts; a run in
progress all of whose recorded processes on this host are gone is dead. `recover` mends
it; `memwise doctor`, every memwise entry point and `recover_dead_runs_sensor` call it.
"""

from __future__ import annotations

import fcntl
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil

from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory.cache import SessionCache
from memwise_assets.memory.lifeline import (
    RUNS_DIR,
    ProcessId,
    recorded_processes,
    run_dir,
)

IN_PROGRESS = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class Finding:
    """One thing recovery found: a dead run, or slots held by a run that is over."""

    run_id: str
    status: str
    problem: str
    pools: tuple[str, ...]
    mended: bool

    def line(self) -> str:
        pools = f" (pool slots: {', '.join(self.pools)})" if self.pools else ""
        done = "mended" if self.mended else "not mended"
        return f"run {self.run_id[:8]} [{self.status}]: {self.problem}{pools}; {done}"


def _gone(
    folder: Path, instance: dg.DagsterInstance | None = None, run_id: str = ""
) -> list[ProcessId] | None:
    """The run's recorded processes when every one (and its orchestrator) is gone, else None.

    A run with no memwise records (killed before any, or run by another executor) is
    judged by the processes its Dagster events came from, on a single-host (SQLite)
    instance only, where every run's processes are this host's.
    """
    records = recorded_processes(folder)
    if not records and instance is not None and _single_host(instance):
        return _gone_by_events(instance, run_id)
    if not records or not all(r.local for r in records):
        return None  # nothing recorded, or run on another host: not ours to judge
    # pid 1 (init, or a container's entry point) orchestrates no run: a record naming it
    # was taken from a child adopted after its parent died, so it proves nothing alive.
    if any(r.pid != 1 and r.alive() for r in records):
        return None
    return records


_EVENT_KINDS = {
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.ENGINE_EVENT,
    dg.DagsterEventType.STEP_WORKER_STARTED,
    dg.DagsterEventType.STEP_START,
}


def _single_host(instance: dg.DagsterInstance) -> bool:
    return type(instance.run_storage).__name__.startswith("Sqlite")


def _gone_by_events(instance: dg.DagsterInstance, run_id: str) -> list[ProcessId] | None:
    """The processes the run's events came from, when every one is gone; else None."""
    first_seen: dict[int, float] = {}
    for entry in instance.all_logs(run_id, of_type=_EVENT_KINDS):
        pid = entry.dagster_event.pid if entry.dagster_event is not None else None
        if pid:
            first_seen[pid] = min(first_seen.get(pid, entry.timestamp), entry.timestamp)
    if not first_seen:
        return None  # not started far enough to say who runs it
    if any(pid != 1 and _ran_since(pid, seen) for pid, seen in first_seen.items()):
        return None
    return [ProcessId(socket.gethostname(), pid, None) for pid in sorted(first_seen)]


def _ran_since(pid: int, seen: float) -> bool:
    """Whether `pid` is alive and is the process that existed at time `seen` (not a reuse)."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= seen + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def _pools_of(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    storage = instance.event_log_storage
    pools = []
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        if run_id in info.active_run_ids or run_id in {s.run_id for s in info.pending_steps}:
            pools.append(key)
    return tuple(pools)


def recover(
    instance: dg.DagsterInstance,
    memory_home: Path,
    *,
    mend: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> list[Finding]:
    """Find (and with `mend`, fix) dead runs and slots held by finished runs."""
    if not mend:
        return _recover(instance, memory_home, mend=False, log=log)
    # One mender at a time per home: two demos starting together report a dead run once.
    (memory_home / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    with open(memory_home / RUNS_DIR / ".recovery.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _recover(instance, memory_home, mend=True, log=log)


def _recover(
    instance: dg.DagsterInstance, memory_home: Path, *, mend: bool, log: Callable[[str], None]
) -> list[Finding]:
    findings: list[Finding] = []
    in_progress = {r.run_id: r for r in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))}
    for run_id, run in in_progress.items():
        dead = _gone(run_dir(memory_home, run_id), instance, run_id)
        if dead is None:
            continue
        who = ", ".join(sorted({f"pid {p.pid}" for p in dead}))
        problem = (
            f"every process of the run is gone ({who} on {dead[0].host}; killed, e.g. by "
            "the OOM killer or kill -9)"
        )
        pools = _pools_of(instance, run_id)
        if mend:
            instance.report_run_failed(run, message=f"memwise recovery: {problem}; marked failed")
            _free(instance, memory_home, run_id)
        findings.append(Finding(run_id, run.status.value, problem, pools, mend))
    holders = instance.event_log_storage.get_concurrency_run_ids() - set(in_progress)
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        status = run.status.value if run else "MISSING"
        pools = _pools_of(instance, run_id)
        if mend:
            _free(instance, memory_home, run_id)
        findings.append(Finding(run_id, status, "a finished run still holds", pools, mend))
    if mend:
        _forget_finished(instance, memory_home)
    for finding in findings:
        log(f"memwise recovery: {finding.line()}")
    return findings


def _free(instance: dg.DagsterInstance, memory_home: Path, run_id: str) -> None:
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    SessionCache(memory_home / "cache", run_id).purge()
    shutil.rmtree(run_dir(memory_home, run_id), ignore_errors=True)


def _forget_finished(instance: dg.DagsterInstance, memory_home: Path) -> None:
    """Drop the process records of runs that are over (a run starting now keeps its own)."""
    root = memory_home / RUNS_DIR
    for folder in root.iterdir() if root.is_dir() else []:
        if not folder.is_dir():
            continue
        run = instance.get_run_by_id(folder.name)
        if run is not None and run.is_finished:
            shutil.rmtree(folder, ignore_errors=True)


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def recover_dead_runs_sensor(
    context: dg.SensorEvaluationContext, memory: MemoryResource
) -> dg.SkipReason:
    """Mark runs whose processes died failed and free their pool slots and caches."""
    findings = recover(context.instance, memory.home, log=context.log.warning)
    return dg.SkipReason(
        "; ".join(f.line() for f in findings) if findings else "no dead runs, no stray slots"
    )
