"""A wall-clock deadline around a block of work, enforced even inside a long C call.

Three levels, each for what the one before cannot reach:

1. A watchdog thread wakes at the deadline and, when the block runs in the main thread,
   sends it a signal (`pthread_kill`). The handler raises `StepTimeout`; a signal
   interrupts `time.sleep`, `select`, socket reads and any C call that returns on EINTR,
   and pure-Python loops see it at the next bytecode. In another thread (Python runs
   signal handlers in the main thread only) it raises through `PyThreadState_SetAsyncExc`,
   which reaches pure-Python code only.
2. It repeats every second, so a `StepTimeout` swallowed by a broad `except` comes back.
3. A C call that holds the GIL blocks every thread of the process, the watchdog too. For
   a block that owns its process (a step of the multiprocess executor) a watchdog
   PROCESS, started with the block, writes the failure note (and runs `before_kill`, which
   can put it into an event log), then SIGKILLs the process `grace_s` after the deadline.
   Writes that are atomic (temporary file, rename) survive that; nothing else does.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# SIGUSR2: Dagster uses SIGINT and SIGTERM for its own interrupts, nothing uses this one.
DEADLINE_SIGNAL = signal.SIGUSR2
_REPEAT_S = 1.0


class StepTimeout(Exception):
    """The block ran past its deadline; the message states the timeout, basis and elapsed."""

    def __init__(self, message: str, *, timeout_s: float, basis: str, elapsed_s: float) -> None:
        super().__init__(message)
        self.timeout_s = timeout_s
        self.basis = basis
        self.elapsed_s = elapsed_s


# The armed deadlines by thread id; the handler, installed once per process, raises for
# the main thread's. Never uninstalled: a signal already in flight must find a handler.
_armed: dict[int, Deadline] = {}
_armed_lock = threading.Lock()
_previous_handler: Any = None
_handler_installed = False


def _on_signal(signum: int, frame: Any) -> None:
    deadline = _armed.get(threading.get_ident())
    if deadline is not None and deadline._fired and not deadline._delivered:
        deadline._delivered = True
        raise deadline.exception()
    if callable(_previous_handler):
        _previous_handler(signum, frame)


def _install_handler() -> bool:
    global _handler_installed, _previous_handler
    if threading.current_thread() is not threading.main_thread():
        return False
    if not _handler_installed:
        _previous_handler = signal.signal(DEADLINE_SIGNAL, _on_signal)
        _handler_installed = True
    return True


def _set_async_exc(thread_id: int, exc_class: type[BaseException] | None) -> None:
    target = ctypes.py_object(exc_class) if exc_class is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class Deadline:
    """Context manager: raise `StepTimeout` in the block `timeout_s` after it began.

    `basis` says where the timeout came from (static, adaptive with its figures,
    override); `kill_process` arms the watchdog process of level 3, which writes
    `note_path` and runs `before_kill` (an argv, given the note's path) before the kill.
    """

    def __init__(
        self,
        timeout_s: float,
        *,
        basis: str = "static",
        label: str = "step",
        grace_s: float = 5.0,
        kill_process: bool = False,
        note_path: Path | None = None,
        before_kill: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds; got {timeout_s!r}")
        if not grace_s >= 0:
            raise ValueError(f"grace_s must be >= 0 seconds; got {grace_s!r}")
        self.timeout_s = float(timeout_s)
        self.basis = basis
        self.label = label
        self.grace_s = float(grace_s)
        self.kill_process = kill_process
        self.note_path = note_path
        self.before_kill = list(before_kill or [])
        self._clock = clock
        self._stop = threading.Event()
        self._started = 0.0
        self._thread_id = 0
        self._fired = self._delivered = False
        self._watchdog: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def fired(self) -> bool:
        """Whether the deadline passed while the block ran."""
        return self._fired

    def message(self, elapsed_s: float) -> str:
        return (
            f"{self.label} timed out: ran {elapsed_s:.1f} s, past its timeout of "
            f"{self.timeout_s:.1f} s (basis: {self.basis})"
        )

    def elapsed_s(self) -> float:
        return self._clock() - self._started

    def exception(self) -> StepTimeout:
        elapsed = self.elapsed_s()
        return StepTimeout(
            self.message(elapsed), timeout_s=self.timeout_s, basis=self.basis, elapsed_s=elapsed
        )

    def __enter__(self) -> Deadline:
        self._thread_id = threading.get_ident()
        self._use_signal = _install_handler()
        self._started = self._clock()
        with _armed_lock:
            _armed[self._thread_id] = self
        if self.kill_process:
            self._process = _start_watchdog_process(self)
        self._watchdog = threading.Thread(target=self._watch, name="memwise-deadline", daemon=True)
        self._watchdog.start()
        return self

    def _watch(self) -> None:
        if self._stop.wait(self.timeout_s):
            return
        self._fired = True
        while True:
            with _armed_lock:
                if _armed.get(self._thread_id) is not self:
                    return
                self._delivered = False
                if self._use_signal:
                    signal.pthread_kill(self._thread_id, DEADLINE_SIGNAL)
                else:
                    _set_async_exc(self._thread_id, _exception_class(self))
            if self._stop.wait(_REPEAT_S):
                return

    def __exit__(self, *exc_info: object) -> bool:
        # A repeat may land while we disarm: absorb it, the block is over either way.
        for _ in range(5):
            try:
                with _armed_lock:
                    _armed.pop(self._thread_id, None)
                    if not self._use_signal and self._fired:
                        _set_async_exc(self._thread_id, None)
                self._stop.set()
                if self._process is not None:
                    _stop_watchdog_process(self._process)
                    self._process = None
                break
            except StepTimeout:
                continue
        # A block that finished past its deadline before any delivery landed is let be:
        # its work (a durable write, say) is done, failing it now would only disown it.
        return False


def _exception_class(deadline: Deadline) -> type[StepTimeout]:
    """A StepTimeout subclass with its figures: PyThreadState_SetAsyncExc raises classes."""

    def __init__(self: StepTimeout, *args: Any) -> None:
        elapsed = deadline.elapsed_s()
        StepTimeout.__init__(
            self,
            deadline.message(elapsed),
            timeout_s=deadline.timeout_s,
            basis=deadline.basis,
            elapsed_s=elapsed,
        )

    return type("StepTimeout", (StepTimeout,), {"__init__": __init__})


# The watchdog process is plain Python without site packages: cheap to start (~20 ms).
# It waits on its stdin; the pipe closes when the block ends or its process dies.
_WATCHDOG = r"""
import json, os, select, signal, subprocess, sys, time
pid, delay, note, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
before = json.loads(sys.argv[5])
ready, _, _ = select.select([sys.stdin], [], [], delay)
if ready:
    sys.exit(0)
if note:
    tmp = note + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({"pid": pid, "message": message, "killed_at": time.time()}, handle)
    os.replace(tmp, note)
if before:
    try:
        subprocess.run(before + [note], timeout=60, stdin=subprocess.DEVNULL)
    except Exception:
        pass
try:
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def _start_watchdog_process(deadline: Deadline) -> subprocess.Popen[bytes]:
    note = str(deadline.note_path or "")
    if deadline.note_path is not None:
        deadline.note_path.parent.mkdir(parents=True, exist_ok=True)
    killed_after = deadline.timeout_s + deadline.grace_s
    message = (
        deadline.message(killed_after)
        + f"; the process was stuck in a call that holds the GIL and was killed "
        f"{deadline.grace_s:.0f} s after the deadline"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-S",
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            str(killed_after),
            note,
            message,
            json.dumps(deadline.before_kill),
        ],
        stdin=subprocess.PIPE,
        close_fds=True,
    )


def _stop_watchdog_process(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
