"""A worker's process tree: its RSS and peak, killing all of it, and why a child died.

Shared by `isolation` (one child per item) and `pool` (long-lived workers): both watch a
child's whole tree, kill it whole when a bound is passed, and name the cause of a death.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

_MB = 1024.0 * 1024.0
_ERROR_CHARS = 4000


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


def describe_error(exc: BaseException) -> str:
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=-5))
    text = f"{type(exc).__name__}: {exc}\nTraceback (most recent calls):\n{frames}"
    return text[:_ERROR_CHARS]


def kill_tree(pid: int, include_root: bool = True) -> list[psutil.Process]:
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


def wait_dead(procs: list[psutil.Process], timeout_s: float) -> None:
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


def tree_rss_mb(root: psutil.Process, seen: dict[int, psutil.Process]) -> float:
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


def hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def oom_kills() -> int:
    # The kernel OOM killer leaves a count in the cgroup v2 events file.
    try:
        for line in Path("/sys/fs/cgroup/memory.events").read_text(encoding="ascii").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def classify_death(
    exitcode: int | None, cap_mb: float | None, peak: float, oom_before: int, seconds: float
) -> IsolatedResult:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        near_cap = cap_mb is not None and peak >= 0.9 * cap_mb
        if -exitcode == signal.SIGKILL and (near_cap or oom_kills() > oom_before):
            # SIGKILL we did not send, with memory at the cap: the kernel OOM killer.
            error = f"killed by {name} at {peak:.1f} MB, most likely the kernel OOM killer"
            return IsolatedResult("memory", None, error, peak, seconds)
        return IsolatedResult("error", None, f"child killed by signal {name}", peak, seconds)
    error = f"child exited with code {exitcode} without returning a result"
    return IsolatedResult("error", None, error, peak, seconds)
