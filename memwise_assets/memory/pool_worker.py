"""One worker process of `WorkerPool`: its serving loop, and the parent's handle on it.

The worker runs the pool's initializer once, then serves pickled tasks from its pipe until
it is told to stop; the parent's `PoolWorker` hands it one `PoolTask` at a time and watches
its process tree against the task's timeout and RSS cap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

import memwise_assets.memory.process_tree as tree
from memwise_assets.memory.lifeline import die_with_parent
from memwise_assets.memory.probe import peak_rss_mb
from memwise_assets.memory.process_tree import IsolatedResult

_log = logging.getLogger(__name__)
_STOP = b""  # an empty message tells a worker to exit


def _worker_main(
    conn: Any, initializer: Callable[..., Any] | None, initargs: tuple, parent_pid: int
) -> None:
    # Ctrl-C reaches the whole process group: the parent decides when workers stop,
    # a worker must not turn the interrupt into a failed task.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker whose parent died (SIGKILL, OOM killer) would otherwise finish its task
    # and linger; it takes its own children with it.
    die_with_parent(parent_pid, on_orphan=lambda: tree.kill_tree(os.getpid(), include_root=False))
    try:
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:
        conn.send(("init-error", tree.describe_error(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if payload == _STOP:
            return
        try:
            fn, args, kwargs = pickle.loads(payload)
            message: tuple[str, Any, str | None] = ("ok", fn(*args, **kwargs), None)
        except BaseException as exc:  # every failure goes back, even SystemExit
            message = ("error", None, tree.describe_error(exc))
        try:
            data = pickle.dumps((*message, peak_rss_mb()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            error = f"result could not be sent back: {tree.describe_error(exc)}"
            data = pickle.dumps(("error", None, error, peak_rss_mb()))
        # Processes a task started must not outlive it as orphans.
        tree.wait_dead(tree.kill_tree(os.getpid(), include_root=False), timeout_s=2)
        try:
            conn.send_bytes(data)
        except OSError:
            return


def _reset_hwm(pid: int) -> bool:
    """Reset a worker's VmHWM from the parent, so no task reads its predecessor's peak."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


@dataclass
class PoolTask:
    future: Future[IsolatedResult]
    payload: bytes
    timeout_s: float
    memory_cap_mb: float | None
    label: str


class PoolWorker:
    """One worker process as the parent sees it: pipe, pid, tasks served."""

    def __init__(
        self,
        ctx: Any,
        name: str,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple = (),
    ) -> None:
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main,
            args=(child_conn, initializer, initargs, os.getpid()),
            name=name,
        )
        self.process.start()
        child_conn.close()
        self.pid = int(self.process.pid or 0)
        self.tasks = 0
        self.ready = False
        self.closing = False  # killed by close(kill=True), not by its task

    def wait_ready(self, timeout_s: float) -> str | None:
        """None once the initializer has run, else why the worker cannot serve."""
        if self.ready:
            return None
        if not self.conn.poll(timeout_s):
            return f"worker {self.pid} did not start within {timeout_s:.0f} s"
        try:
            kind, detail = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            return f"worker {self.pid} exited with code {self.process.exitcode} while starting"
        if kind == "init-error":
            return f"worker initializer failed: {detail}"
        self.ready = True
        return None

    def run(self, task: PoolTask, poll_s: float) -> tuple[IsolatedResult, bool]:
        """Run one task; the flag says whether the worker may serve another."""
        self.tasks += 1
        seen: dict[int, psutil.Process] = {}
        root = psutil.Process(self.pid)
        hwm_ok = _reset_hwm(self.pid)
        oom_before = tree.oom_kills()
        started = time.monotonic()
        peak, status, error, message = 0.0, None, None, None
        try:
            self.conn.send_bytes(task.payload)
        except OSError:
            pass  # it died between tasks: classified below from its exit code
        else:
            while True:
                rss = tree.tree_rss_mb(root, seen)
                peak = max(peak, rss, tree.hwm_mb(self.pid) if hwm_ok else 0.0)
                elapsed = time.monotonic() - started
                cap = task.memory_cap_mb
                if cap is not None and rss > cap:
                    status = "memory"
                    error = f"RSS {rss:.1f} MB passed the {cap:.1f} MB cap after {elapsed:.2f} s"
                    break
                if elapsed > task.timeout_s:
                    status, error = "timeout", f"still running after the {task.timeout_s} s timeout"
                    break
                if self.conn.poll(min(poll_s, max(0.0, task.timeout_s - elapsed) + 1e-3)):
                    try:
                        message = pickle.loads(self.conn.recv_bytes())
                    except (EOFError, OSError):
                        message = None
                    break
        seconds = time.monotonic() - started
        # Children that escaped the worker's tree (double fork) are killed by pid.
        escaped = [p for p in seen.values() if _running(p)]
        for proc in escaped:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        tree.wait_dead(escaped, timeout_s=3)
        if message is not None:
            child_status, value, child_error, child_peak = message
            peak = max(peak, child_peak) if hwm_ok else peak
            return IsolatedResult(child_status, value, child_error, peak, seconds), True
        self.kill()
        if status is not None:
            _log.warning("pool task %s ended as %s: %s", task.label, status, error)
            return IsolatedResult(status, None, error, peak, seconds), False
        if self.closing:
            error = "the pool was closed with kill=True while this task ran"
            return IsolatedResult("error", None, error, peak, seconds), False
        exitcode = self.process.exitcode
        return tree.classify_death(exitcode, task.memory_cap_mb, peak, oom_before, seconds), False

    def kill(self) -> None:
        """SIGKILL the worker and everything below it, and reap it."""
        leftovers = tree.kill_tree(self.pid) if self.process.exitcode is None else []
        self.process.join()
        tree.wait_dead(leftovers, timeout_s=3)
        self.conn.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask a ready worker to exit; kill it if it does not (or is still starting)."""
        if self.ready and self.process.exitcode is None:
            with contextlib.suppress(OSError):
                self.conn.send_bytes(_STOP)
            self.process.join(timeout_s)
        self.kill()


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
