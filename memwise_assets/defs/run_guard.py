"""The default executor with a guard in the orchestrating process of every run.

A run killed with its orchestrator (kill -9 of `dagster asset materialize`, the OOM
killer) stays STARTED in Dagster and keeps its pool slots, and a CLI backfill runs no
daemon, no sensor and no `memwise doctor`. So the orchestrator of every run (CLI, UI
launch, schedule) does it itself, before it claims any slot: it records its own identity
under `<memwise home>/runs/<run_id>/` (so its death is seen even when it dies before a
step process starts) and runs recovery. While a step of the run waits for a pool, it
keeps looking: a holder that dies is mended at once, and a wait of over a minute says
which run holds the slot and how to free it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.executor_definition import multi_or_in_process_executor
from dagster._core.execution.retries import RetryMode
from dagster._core.system_config.objects import ResolvedRunConfig

from memwise_assets.defs.home_and_size import memwise_home
from memwise_assets.defs.pool_waits import blocked_on
from memwise_assets.defs.recovery import recover
from memwise_assets.memory.lifeline import record_process, run_dir

# A pool wait longer than this is explained in the run's log (once per pool and holder);
# the variable shortens it (tests).
EXPLAIN_AFTER_S = 60.0
EXPLAIN_AFTER_ENV = "MEMWISE_POOL_EXPLAIN_AFTER_S"
WATCH_S = 5.0


def memory_home_of(run_config: Any) -> Path:
    """The memwise home of a run: its memory resource's `home_dir`, else the default."""
    memory = run_config.resources.get("memory") if run_config is not None else None
    home = (memory.config or {}).get("home_dir") if memory is not None else None
    if isinstance(home, dict) and "env" in home:
        home = os.environ.get(home["env"])
    return Path(home) if isinstance(home, str) and home else memwise_home()


def guard_run(
    instance: dg.DagsterInstance, memory_home: Path, run_id: str, log: Any
) -> threading.Event:
    """Record this orchestrator, mend dead runs, and watch this run's pool waits.

    Returns the event that stops the watcher.
    """
    record_process(run_dir(memory_home, run_id))
    for finding in recover(instance, memory_home):
        log.warning(f"memwise recovery before run start: {finding.line()}")
    stop = threading.Event()
    thread = threading.Thread(
        target=_watch,
        args=(instance, memory_home, run_id, log, stop),
        name="memwise-run-guard",
        daemon=True,
    )
    thread.start()
    return stop


def _watch(
    instance: dg.DagsterInstance, memory_home: Path, run_id: str, log: Any, stop: threading.Event
) -> None:
    blocked_since: float | None = None
    said: set[str] = set()
    explain_after_s = float(os.environ.get(EXPLAIN_AFTER_ENV) or EXPLAIN_AFTER_S)
    while not stop.wait(min(WATCH_S, explain_after_s)):
        try:
            lines = blocked_on(instance, {run_id})
            if not lines:
                blocked_since = None
                continue
            blocked_since = blocked_since or time.monotonic()
            for finding in recover(instance, memory_home):
                log.warning(f"memwise recovery while waiting for a pool: {finding.line()}")
            if time.monotonic() - blocked_since < explain_after_s:
                continue
            for line in blocked_on(instance, {run_id}):
                if line not in said:
                    said.add(line)
                    log.warning(f"blocked for over {explain_after_s:.0f} s: {line}")
        except Exception as error:  # the guard must never break the run it guards
            if not stop.is_set():
                log.debug(f"memwise run guard: {error}")


def _resolved(plan_context) -> Any:  # noqa: ANN001 (Dagster's orchestration context)
    """The run's resolved config (resource defaults applied); None if it cannot be had."""
    try:
        job_def = plan_context.job.get_definition()
        return ResolvedRunConfig.build(job_def, plan_context.run_config)
    except Exception:
        return None


class GuardedExecutor(dg.Executor):
    """Dagster's executor, with `guard_run` around its execution in the orchestrator."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self):  # noqa: ANN201 (Dagster's own type)
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:  # noqa: ANN001
        home = memory_home_of(_resolved(plan_context))
        stop = guard_run(plan_context.instance, home, plan_context.run_id, plan_context.log)
        try:
            yield from self._inner.execute(plan_context, execution_plan)
        finally:
            stop.set()


@dg.executor(
    name="memwise_multi_or_in_process_executor",
    config_schema=multi_or_in_process_executor.config_schema,
    requirements=multi_or_in_process_executor.get_requirements,
)
def memwise_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Dagster's default executor (same config: multiprocess or in_process), guarded."""
    creation = multi_or_in_process_executor.executor_creation_fn
    assert creation is not None
    return GuardedExecutor(creation(init_context))
