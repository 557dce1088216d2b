"""A pool of persistent worker processes, each task under its own timeout and RSS cap.

Like `run_isolated`, but a worker serves many tasks, so costly set-up (importing spaCy,
loading a pipeline) is paid once per worker instead of once per task. The parent watches
the worker during each task and kills it, with its children, when the task passes its own
timeout or cap; a fresh worker takes its place. Workers are recycled after a number of
tasks so that memory they fragment or cache does not pile up.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.util
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from memwise_assets.memory.isolation import (
    IsolatedResult,
    _classify_death,
    _describe,
    _hwm_mb,
    _kill_tree,
    _oom_kills,
    _tree_rss_mb,
    _wait_dead,
)
from memwise_assets.memory.lifeline import die_with_parent, mark_children_as_mine
from memwise_assets.memory.probe import peak_rss_mb

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
    die_with_parent(parent_pid, on_orphan=lambda: _kill_tree(os.getpid(), include_root=False))
    try:
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:
        conn.send(("init-error", _describe(exc)))
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
            message = ("error", None, _describe(exc))
        try:
            data = pickle.dumps((*message, peak_rss_mb()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            error = f"result could not be sent back: {_describe(exc)}"
            data = pickle.dumps(("error", None, error, peak_rss_mb()))
        # Processes a task started must not outlive it as orphans.
        _wait_dead(_kill_tree(os.getpid(), include_root=False), timeout_s=2)
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
class _Task:
    future: Future[IsolatedResult]
    payload: bytes
    timeout_s: float
    memory_cap_mb: float | None
    label: str


class _Worker:
    """One worker process as the parent sees it: pipe, pid, tasks served."""

    def __init__(self, pool: WorkerPool, name: str) -> None:
        self.conn, child_conn = pool._ctx.Pipe(duplex=True)
        self.process = pool._ctx.Process(
            target=_worker_main,
            args=(child_conn, pool._initializer, pool._initargs, os.getpid()),
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

    def run(self, task: _Task, poll_s: float) -> tuple[IsolatedResult, bool]:
        """Run one task; the flag says whether the worker may serve another."""
        self.tasks += 1
        seen: dict[int, psutil.Process] = {}
        root = psutil.Process(self.pid)
        hwm_ok = _reset_hwm(self.pid)
        oom_before = _oom_kills()
        started = time.monotonic()
        peak, status, error, message = 0.0, None, None, None
        try:
            self.conn.send_bytes(task.payload)
        except OSError:
            pass  # it died between tasks: classified below from its exit code
        else:
            while True:
                rss = _tree_rss_mb(root, seen)
                peak = max(peak, rss, _hwm_mb(self.pid) if hwm_ok else 0.0)
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
        _wait_dead(escaped, timeout_s=3)
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
        return _classify_death(exitcode, task.memory_cap_mb, peak, oom_before, seconds), False

    def kill(self) -> None:
        """SIGKILL the worker and everything below it, and reap it."""
        leftovers = _kill_tree(self.pid) if self.process.exitcode is None else []
        self.process.join()
        _wait_dead(leftovers, timeout_s=3)
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


class WorkerPool:
    """Persistent worker processes; each task gets its own wall-clock timeout and RSS cap.

    `initializer(*initargs)` runs once in each new worker (warm caches there). Workers
    start on demand, one per slot, and a killed or recycled one is replaced by the next
    task of its slot. A task's timeout counts from when a ready worker receives it, so
    worker start-up is not charged to it. Results come back as `IsolatedResult` (ok |
    timeout | memory | error), with peak_mb the worker's RSS peak during the task (its
    kernel high-water mark, reset per task, and the parent's samples of its process tree).
    """

    def __init__(
        self,
        workers: int = 2,
        max_tasks_per_worker: int = 50,
        start_method: str = "spawn",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple = (),
        *,
        poll_s: float = 0.05,
        start_timeout_s: float = 300.0,
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1; got {workers!r}")
        if not isinstance(max_tasks_per_worker, int) or max_tasks_per_worker < 1:
            raise ValueError(
                f"max_tasks_per_worker must be an int >= 1; got {max_tasks_per_worker!r}"
            )
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver'; got {start_method!r}")
        if not poll_s > 0 or not start_timeout_s > 0:
            raise ValueError(
                f"poll_s and start_timeout_s must be > 0; got {poll_s}, {start_timeout_s}"
            )
        try:
            pickle.dumps((initializer, initargs))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(
                f"WorkerPool needs an importable initializer and picklable initargs; got "
                f"{initializer!r}: {exc}"
            ) from exc
        self.workers = workers
        self.max_tasks_per_worker = max_tasks_per_worker
        self.poll_s = poll_s
        self.start_timeout_s = start_timeout_s
        self._ctx = multiprocessing.get_context(start_method)
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._live: dict[int, _Worker] = {}
        self._names = itertools.count(1)
        self.workers_started = 0
        # Slot threads are daemons so a forgotten pool never blocks interpreter exit; the
        # exit hook still stops its workers. multiprocessing's hook, unlike atexit, also
        # runs when the owner is itself a multiprocessing child (Dagster's step processes).
        self._threads = [
            threading.Thread(target=self._serve, args=(slot,), name=f"memwise-pool-{slot}")
            for slot in range(workers)
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        self._finalizer = multiprocessing.util.Finalize(None, self.close, exitpriority=10)

    @property
    def pids(self) -> list[int]:
        """Pids of the worker processes alive now (sorted)."""
        with self._lock:
            return sorted(w.pid for w in self._live.values())

    def submit(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        timeout_s: float,
        memory_cap_mb: float | None = None,
        **kwargs: Any,
    ) -> Future[IsolatedResult]:
        """Queue `fn(*args, **kwargs)` for the next free worker; the future never raises."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0; got {timeout_s!r}")
        if memory_cap_mb is not None and not memory_cap_mb > 0:
            raise ValueError(f"memory_cap_mb must be > 0 or None; got {memory_cap_mb!r}")
        try:
            payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(
                f"WorkerPool needs an importable function and picklable arguments; got {fn!r}: "
                f"{exc}"
            ) from exc
        future: Future[IsolatedResult] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("WorkerPool is closed; submit tasks before close()")
            self._queue.put(_Task(future, payload, float(timeout_s), memory_cap_mb, repr(fn)))
        return future

    def close(self, cancel_futures: bool = False, kill: bool = False) -> None:
        """Finish queued tasks (or cancel them), stop every worker, wait for the threads.

        `kill=True` (an interrupted caller) also cancels the queue and kills the workers
        at once: their running tasks come back as errors instead of being waited for.
        """
        with self._lock:
            if kill:
                for worker in self._live.values():
                    worker.closing = True
                    _kill_tree(worker.pid)
            if not self._closed:
                self._closed = True
                if cancel_futures or kill:
                    with contextlib.suppress(queue.Empty):
                        while True:
                            task = self._queue.get_nowait()
                            if task is not None:
                                task.future.cancel()
                for _ in self._threads:
                    self._queue.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._finalizer.cancel()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside the slot threads ----------------------------------------------------------

    def _spawn(self, slot: int) -> _Worker | None:
        mark_children_as_mine()  # the parent's reservations last until its workers are gone
        try:
            worker = _Worker(self, name=f"memwise-pool-worker-{next(self._names)}")
        except Exception:
            _log.exception("pool slot %d could not start a worker", slot)
            return None
        with self._lock:
            self._live[slot] = worker
            self.workers_started += 1
        return worker

    def _retire(self, slot: int, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._live.pop(slot, None)

    def _serve(self, slot: int) -> None:
        # Workers start with the first task of their slot: a batch of one filing warms one.
        worker: _Worker | None = None
        try:
            while True:
                task = self._queue.get()
                if task is None:
                    return
                if not task.future.set_running_or_notify_cancel():
                    continue
                if worker is not None and worker.process.exitcode is not None:
                    # Died while idle (killed from outside): not this task's fault.
                    self._retire(slot, worker)
                    worker = None
                try:
                    worker = worker or self._spawn(slot)
                    if worker is None:
                        raise RuntimeError("the pool could not start a worker process")
                    problem = worker.wait_ready(self.start_timeout_s)
                    if problem is None:
                        result, reusable = worker.run(task, self.poll_s)
                    else:
                        result, reusable = IsolatedResult("error", None, problem, 0.0, 0.0), False
                except BaseException as exc:  # a caller must never wait forever
                    task.future.set_exception(exc)
                    reusable = False
                else:
                    task.future.set_result(result)
                if worker is not None and (
                    not reusable or worker.tasks >= self.max_tasks_per_worker
                ):
                    self._retire(slot, worker)
                    worker = None
        finally:
            if worker is not None:
                self._retire(slot, worker)
