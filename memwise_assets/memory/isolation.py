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
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from memwise_assets.memory.lifeline import die_with_parent, mark_children_as_mine
from memwise_assets.memory.probe import peak_rss_mb

_MB = 1024.0 * 1024.0
_ERROR_CHARS = 4000
_log = logging.getLogger(__name__)

STATUSES = ("ok", "timeout", "memory", "error")


@dataclass(frozen=True)
class IsolatedResult:
    """Outcome of one isolated work item: status is ok, timeout, memory or error."""

    status: str
    value: Any
    error: str | None
    peak_mb: float
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _describe(exc: BaseException) -> str:
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-5))
    text = f"{type(exc).__name__}: {exc}\nTraceback (most recent calls):\n{frames}"
    return text[:_ERROR_CHARS]


def _kill_tree(pid: int, include_root: bool = True) -> list[psutil.Process]:
    """SIGKILL `pid` and every descendant; return the descendants (not reaped here)."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return []
    # Freeze first so nothing forks a new process between listing and killing.
    frozen: list[psutil.Process] = [root] if include_root else []
    with contextlib.suppress(psutil.Error):
        if include_root:
            root.suspend()
    for _ in range(5):
        try:
            found = root.children(recursive=True)
        except psutil.Error:
            break
        new = [proc for proc in found if proc not in frozen]
        if not new:
            break
        for proc in new:
            with contextlib.suppress(psutil.Error):
                proc.suspend()
            frozen.append(proc)
    # Descendants first: once the root is gone they are reparented and harder to find.
    for proc in reversed(frozen):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return [proc for proc in frozen if proc.pid != pid]


def _wait_dead(procs: list[psutil.Process], timeout_s: float) -> None:
    """Wait until each process is gone or a zombie: reaping orphans is their new parent's job."""
    deadline = time.monotonic() + timeout_s
    pending = {proc.pid: proc for proc in procs}
    while pending and time.monotonic() < deadline:
        for pid, proc in list(pending.items()):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    # Our own child: reap it now rather than leave a zombie behind.
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)
                    del pending[pid]
            except psutil.NoSuchProcess:
                del pending[pid]
        if pending:
            time.sleep(0.01)


def _child_main(
    conn: Any, fn: Callable[..., Any], args: tuple, kwargs: dict, parent_pid: int
) -> None:
    # A killed parent (SIGKILL, OOM killer) must not leave this item running under init:
    # its reservation would be reclaimed while its memory is still in use.
    die_with_parent(parent_pid, on_orphan=lambda: _kill_tree(os.getpid(), include_root=False))
    try:
        message: tuple[str, Any, str | None] = ("ok", fn(*args, **kwargs), None)
    except BaseException as exc:  # the parent reports every failure, even SystemExit
        message = ("error", None, _describe(exc))
    try:
        conn.send((*message, peak_rss_mb()))
    except Exception as exc:
        conn.send(("error", None, f"result could not be sent back: {_describe(exc)}", 0.0))
    finally:
        conn.close()
        # Processes the work item started must not outlive it as orphans.
        _wait_dead(_kill_tree(os.getpid(), include_root=False), timeout_s=2)


def _tree_rss_mb(root: psutil.Process, seen: dict[int, psutil.Process]) -> float:
    try:
        children = root.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0
    for proc in [root, *children]:
        if proc is not root:
            seen.setdefault(proc.pid, proc)
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total / _MB


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def _oom_kills() -> int:
    # The kernel OOM killer leaves a count in the cgroup v2 events file.
    try:
        for line in Path("/sys/fs/cgroup/memory.events").read_text(encoding="ascii").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


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
    oom_before = _oom_kills()
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
            rss = _tree_rss_mb(root, seen)
            peak = max(peak, rss, _hwm_mb(process.pid))
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
        leftovers = _kill_tree(process.pid) if process.exitcode is None else []
        process.join()
        # Descendants seen earlier whose parent died are no longer in the tree: kill by name.
        for proc in seen.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running():
                    proc.kill()
                    leftovers.append(proc)
        _wait_dead(leftovers, timeout_s=3)
        receiver.close()
    seconds = time.monotonic() - started
    if message is not None:
        child_status, value, child_error, child_peak = message
        return IsolatedResult(child_status, value, child_error, max(peak, child_peak), seconds)
    if status is not None:
        _log.warning("isolated %r ended as %s: %s", fn, status, error)
        return IsolatedResult(status, None, error, peak, seconds)
    return _classify_death(process.exitcode, memory_cap_mb, peak, oom_before, seconds)


def _classify_death(
    exitcode: int | None, cap_mb: float | None, peak: float, oom_before: int, seconds: float
) -> IsolatedResult:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        near_cap = cap_mb is not None and peak >= 0.9 * cap_mb
        if -exitcode == signal.SIGKILL and (near_cap or _oom_kills() > oom_before):
            # SIGKILL we did not send, with memory at the cap: the kernel OOM killer.
            error = f"killed by {name} at {peak:.1f} MB, most likely the kernel OOM killer"
            return IsolatedResult("memory", None, error, peak, seconds)
        return IsolatedResult("error", None, f"child killed by signal {name}", peak, seconds)
    error = f"child exited with code {exitcode} without returning a result"
    return IsolatedResult("error", None, error, peak, seconds)
