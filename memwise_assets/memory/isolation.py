"""Run one work item in a child process with a wall-clock timeout and an RSS cap.

The parent watches the child's whole process tree and kills all of it when either bound
is passed, so a runaway item costs one child, not the run; nothing is left behind.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable
from typing import Any

import psutil

from memwise_assets.memory.lifeline import die_with_parent, mark_children_as_mine
from memwise_assets.memory.probe import peak_rss_mb
from memwise_assets.memory.process_tree import (
    IsolatedResult,
    classify_death,
    describe_error,
    hwm_mb,
    kill_tree,
    oom_kills,
    tree_rss_mb,
    wait_dead,
)

_log = logging.getLogger(__name__)


def _child_main(
    conn: Any, fn: Callable[..., Any], args: tuple, kwargs: dict, parent_pid: int
) -> None:
    # A killed parent (SIGKILL, OOM killer) must not leave this item running under init:
    # its reservation would be reclaimed while its memory is still in use.
    die_with_parent(parent_pid, on_orphan=lambda: kill_tree(os.getpid(), include_root=False))
    try:
        message: tuple[str, Any, str | None] = ("ok", fn(*args, **kwargs), None)
    except BaseException as exc:  # the parent reports every failure, even SystemExit
        message = ("error", None, describe_error(exc))
    try:
        conn.send((*message, peak_rss_mb()))
    except Exception as exc:
        conn.send(("error", None, f"result could not be sent back: {describe_error(exc)}", 0.0))
    finally:
        conn.close()
        # Processes the work item started must not outlive it as orphans.
        wait_dead(kill_tree(os.getpid(), include_root=False), timeout_s=2)


def run_isolated(
    fn: Callable[..., Any],
    *args: Any,
    timeout_s: float,
    memory_cap_mb: float | None = None,
    poll_s: float = 0.05,
    start_method: str = "spawn",
    **kwargs: Any,
) -> IsolatedResult:
    """Run `fn(*args, **kwargs)` in a child process under a timeout and an RSS cap.

    `fn` and its arguments must be picklable (an importable function); the value
    comes back through a pipe. Status `memory` also covers a kernel OOM kill.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0; got {timeout_s!r}")
    if memory_cap_mb is not None and not memory_cap_mb > 0:
        raise ValueError(f"memory_cap_mb must be > 0 or None; got {memory_cap_mb!r}")
    if start_method not in ("spawn", "forkserver"):
        raise ValueError(f"start_method must be 'spawn' or 'forkserver'; got {start_method!r}")
    ctx = multiprocessing.get_context(start_method)
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child_main,
        args=(sender, fn, args, kwargs, os.getpid()),
        name=f"memwise-isolated-{fn!r}",
    )
    mark_children_as_mine()
    oom_before = oom_kills()
    started = time.monotonic()
    try:
        process.start()
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise TypeError(
            f"run_isolated needs an importable function and picklable arguments; got {fn!r}: {exc}"
        ) from exc
    finally:
        sender.close()
    root = psutil.Process(process.pid)
    seen: dict[int, psutil.Process] = {}
    peak = 0.0
    status: str | None = None
    error: str | None = None
    message: tuple | None = None
    try:
        while True:
            rss = tree_rss_mb(root, seen)
            peak = max(peak, rss, hwm_mb(process.pid))
            elapsed = time.monotonic() - started
            if memory_cap_mb is not None and rss > memory_cap_mb:
                status = "memory"
                error = (
                    f"RSS {rss:.1f} MB passed the {memory_cap_mb:.1f} MB cap after {elapsed:.2f} s"
                )
                break
            if elapsed > timeout_s:
                status = "timeout"
                error = f"still running after the {timeout_s} s timeout"
                break
            if receiver.poll(min(poll_s, max(0.0, timeout_s - elapsed) + 1e-3)):
                try:
                    message = receiver.recv()
                except EOFError:
                    message = None  # died without a word: classified from its exit code
                break
    finally:
        # Runs on our own kills and on an interrupt (KeyboardInterrupt, async abort) alike.
        if message is not None:
            process.join(timeout=5)  # it answered: let it exit on its own first
        leftovers = kill_tree(process.pid) if process.exitcode is None else []
        process.join()
        # Descendants seen earlier whose parent died are no longer in the tree: kill by name.
        for proc in seen.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()
                    leftovers.append(proc)
        wait_dead(leftovers, timeout_s=3)
        receiver.close()
    seconds = time.monotonic() - started
    if message is not None:
        child_status, value, child_error, child_peak = message
        return IsolatedResult(child_status, value, child_error, max(peak, child_peak), seconds)
    if status is not None:
        _log.warning("isolated %r ended as %s: %s", fn, status, error)
        return IsolatedResult(status, None, error, peak, seconds)
    return classify_death(process.exitcode, memory_cap_mb, peak, oom_before, seconds)
