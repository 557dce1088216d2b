"""While an in-process run waits for a pool slot: say what it waits for, mend, answer Ctrl-C.

Dagster's in-process executor sleeps in a loop while a step is blocked by its pool and
only records an interrupt (it checks for one between steps), so a blocked `memwise demo`
would ignore Ctrl-C and SIGTERM. This watcher, beside the run in a thread, names the run
holding the slot, runs recovery (a holder that died is mended at once), and on an
interrupt raises KeyboardInterrupt in the main thread so the run ends as interrupted.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
from dagster._utils.interrupts import check_captured_interrupt

from memwise_assets.defs.recovery import IN_PROGRESS, recover, run_dir
from memwise_assets.memory.lifeline import ProcessId


def _my_runs(instance: dg.DagsterInstance, memory_home: Path) -> set[str]:
    me = ProcessId.of()
    mine = set()
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS)):
        if (run_dir(memory_home, run.run_id) / f"{me.host}-{me.pid}.json").exists():
            mine.add(run.run_id)
    return mine


def blocked_on(instance: dg.DagsterInstance, run_ids: set[str]) -> list[str]:
    """One line per pool a step of `run_ids` waits for: who holds its slots."""
    storage = instance.event_log_storage
    lines = []
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        waiting = [
            s for s in info.pending_steps if s.run_id in run_ids and not s.assigned_timestamp
        ]
        if not waiting:
            continue
        holders = ", ".join(f"run {s.run_id[:8]} step {s.step_key}" for s in info.claimed_slots)
        lines.append(
            f"{waiting[0].step_key} waits for pool {key!r} (limit {info.limit}): held by "
            f"{holders or 'nobody yet'}; a dead holder is mended on its own (`memwise doctor` "
            "shows it); a live one frees the slot when it ends, or when cancelled "
            "(Runs page of the UI); `dagster instance concurrency set "
            f"{key} <n>` allows more; Ctrl-C stops"
        )
    return lines


def _interrupt_main() -> None:
    ident = threading.main_thread().ident
    if ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
        )


@contextlib.contextmanager
def watch_pool_waits(
    instance: dg.DagsterInstance,
    memory_home: Path,
    say: Callable[[str], None],
    interval_s: float = 1.0,
) -> Iterator[None]:
    """Around an in-process materialization on the main thread."""
    stop = threading.Event()

    def watch() -> None:
        said: set[str] = set()
        while not stop.wait(interval_s):
            if check_captured_interrupt():
                say("interrupted while waiting between steps; stopping the run")
                _interrupt_main()
                return
            try:
                lines = blocked_on(instance, _my_runs(instance, memory_home))
                for line in lines:
                    if line not in said:
                        said.add(line)
                        say(line)
                if lines:
                    recover(instance, memory_home, log=say)
            except Exception as error:  # the watcher must never break the run it watches
                say(f"(pool watcher: {error})")

    thread = threading.Thread(target=watch, name="memwise-pool-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
