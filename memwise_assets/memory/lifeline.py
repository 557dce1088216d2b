"""Process identity and lifelines: who holds what, and children that die with their parent.

A pid alone is not an identity (pids are reused), so a holder is (host, pid, start time).
A child calls `die_with_parent` first thing: the kernel's parent-death signal where Linux
offers it, plus a watchdog thread that catches what the signal cannot (a parent that
died before the signal was armed, or a thread-exit in a multithreaded parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1
WATCH_S = 0.5
# Children a holder starts carry its identity here, so its reservation outlives it until
# they are gone too (a killed parent's child may still be using the memory for a moment).
HOLDER_ENV = "MEMWISE_HOLDER"


@dataclass(frozen=True)
class ProcessId:
    """A process on a host, told apart from a later process that reuses its pid."""

    host: str
    pid: int
    start: float | None

    @classmethod
    def of(cls, pid: int | None = None) -> ProcessId:
        pid = os.getpid() if pid is None else pid
        return cls(socket.gethostname(), pid, process_start(pid))

    @property
    def local(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool:
        """True while the process runs (a process on another host counts as alive)."""
        return not self.local or holder_alive(self.pid, self.start)


def process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def holder_alive(pid: int, start: float | None) -> bool:
    """Whether `pid` still runs and is the process that started at `start`."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A different start time means the pid was reused by an unrelated process.
        return start is None or abs(proc.create_time() - start) < 0.05
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def holder_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    start = process_start(pid)
    return f"{pid}:{start!r}"


def mark_children_as_mine() -> None:
    """Children started from now on carry this process's identity (see HOLDER_ENV)."""
    os.environ[HOLDER_ENV] = holder_token()


def holders_children_alive(pid: int, start: float | None) -> bool:
    """Whether any live process still carries the identity of holder (pid, start)."""
    token = f"{pid}:{start!r}"
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(HOLDER_ENV) == token and proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            continue
    return False


def _arm_parent_death_signal(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int, *, on_orphan=None, sig: int = signal.SIGKILL) -> None:
    """Make this process end when `parent_pid` does (call it first thing in a child).

    `on_orphan` runs in the watchdog before the process exits (e.g. to kill its own
    children, which the kernel signal does not reach).
    """
    _arm_parent_death_signal(sig)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        _orphaned(on_orphan)

    def watch() -> None:
        while True:
            time.sleep(WATCH_S)
            if os.getppid() != parent_pid:
                _orphaned(on_orphan)

    threading.Thread(target=watch, name="memwise-parent-watch", daemon=True).start()


def _orphaned(on_orphan) -> None:
    if on_orphan is not None:
        with contextlib.suppress(BaseException):
            on_orphan()
    os._exit(1)


def record_process(folder: Path, depends_on: ProcessId | None = None) -> Path:
    """Write this process's identity under `folder` (one file per process).

    `depends_on` is a process this one works for (a step's orchestrator): the work is
    over only when both are gone.
    """
    me = ProcessId.of()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{me.host}-{me.pid}.json"
    entries = [me] if depends_on is None or depends_on == me else [me, depends_on]
    payload = [{"host": p.host, "pid": p.pid, "start": p.start} for p in entries]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, path)
    return path


def recorded_processes(folder: Path) -> list[ProcessId]:
    """Every identity written under `folder` (unreadable records are skipped)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            for data in json.loads(path.read_text(encoding="utf-8")):
                found.append(ProcessId(str(data["host"]), int(data["pid"]), data.get("start")))
    return found


RUNS_DIR = "runs"


def run_dir(memory_home: Path, run_id: str) -> Path:
    """Where the processes of run `run_id` are recorded under a memwise home."""
    return memory_home / RUNS_DIR / run_id


# The start time recorded for an orchestrator found dead: no live process ever matches it.
GONE_START = 0.0


def true_parent() -> ProcessId | None:
    """The process that started this one, as it was when it did; None for no parent.

    `os.getppid()` names whoever adopted us once the parent died (pid 1 or a subreaper),
    so a record taken from it would call a dead orchestrator alive. multiprocessing hands a
    child its parent's pid at start: where that is no longer our parent, it is gone.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return None
    if os.getppid() != parent.pid:
        return ProcessId(socket.gethostname(), parent.pid, GONE_START)
    return ProcessId.of(parent.pid)


def start_run_lifeline(memory_home: Path, run_id: str) -> None:
    """Record this process for `run_id`; a step subprocess also dies with its orchestrator.

    A step process whose orchestrator died while it started up records that (so recovery
    sees every process of the run gone) and ends before it does any work.
    """
    orchestrator = true_parent()
    record_process(run_dir(memory_home, run_id), depends_on=orchestrator or ProcessId.of())
    if orchestrator is not None:
        die_with_parent(orchestrator.pid)
