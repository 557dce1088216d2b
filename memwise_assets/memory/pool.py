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
import pickle
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from memwise_assets.memory.lifeline import mark_children_as_mine
from memwise_assets.memory.pool_worker import PoolTask, PoolWorker
from memwise_assets.memory.process_tree import (
    IsolatedResult,
    kill_tree,
)

_log = logging.getLogger(__name__)


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
        self._queue: queue.SimpleQueue[PoolTask | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._live: dict[int, PoolWorker] = {}
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
            self._queue.put(PoolTask(future, payload, float(timeout_s), memory_cap_mb, repr(fn)))
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
                    kill_tree(worker.pid)
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

    def _spawn(self, slot: int) -> PoolWorker | None:
        mark_children_as_mine()  # the parent's reservations last until its workers are gone
        try:
            worker = PoolWorker(
                self._ctx,
                f"memwise-pool-worker-{next(self._names)}",
                self._initializer,
                self._initargs,
            )
        except Exception:
            _log.exception("pool slot %d could not start a worker", slot)
            return None
        with self._lock:
            self._live[slot] = worker
            self.workers_started += 1
        return worker

    def _retire(self, slot: int, worker: PoolWorker) -> None:
        worker.stop()
        with self._lock:
            self._live.pop(slot, None)

    def _serve(self, slot: int) -> None:
        # Workers start with the first task of their slot: a batch of one filing warms one.
        worker: PoolWorker | None = None
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
