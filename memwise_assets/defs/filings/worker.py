"""What a filings worker runs (importable, so spawn finds it), and the warm worker pool.

A spawned worker pays a few seconds to import spaCy, pandas and lxml; the pool pays
that once per worker instead of once per filing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from memwise_assets.compute.filings import filing_sections, load_nlp
from memwise_assets.memory import WorkerPool

POOL_WORKERS = 2
TASKS_PER_WORKER = 50
# A pool outliving its step only helps the next step of the same process (in-process
# runs); idle workers hold memory the ledger does not see, so they go after a minute.
IDLE_CLOSE_S = 60.0

_lock = threading.Lock()
_pools: dict[str | None, WorkerPool] = {}
_users: dict[str | None, int] = {}
_timers: dict[str | None, threading.Timer] = {}


def warm_worker(model: str | None) -> None:
    """Pool initializer: load the spaCy pipeline (and with it the parser modules) once."""
    load_nlp(model)


def sections_in_worker(path: str, form: str | None, model: str | None) -> pd.DataFrame:
    """Sections of one filing, cleaned with the worker's (cached) spaCy pipeline."""
    return filing_sections(path, form, nlp=load_nlp(model))


@contextmanager
def filing_pool(model: str | None) -> Iterator[WorkerPool]:
    """This process's pool of warm filing workers for `model`, shared by its steps."""
    with _lock:
        timer = _timers.pop(model, None)
        if timer is not None:
            timer.cancel()
        pool = _pools.get(model)
        if pool is None:
            pool = WorkerPool(
                workers=POOL_WORKERS,
                max_tasks_per_worker=TASKS_PER_WORKER,
                initializer=warm_worker,
                initargs=(model,),
            )
            _pools[model] = pool
        _users[model] = _users.get(model, 0) + 1
    try:
        yield pool
    except BaseException:
        # An interrupted step (run terminated, Ctrl-C) must not wait for running filings.
        with _lock:
            _users[model] -= 1
            if _pools.get(model) is pool:
                del _pools[model]
        pool.close(kill=True)
        raise
    else:
        with _lock:
            _users[model] -= 1
            if _users[model] == 0 and _pools.get(model) is pool:
                timer = threading.Timer(IDLE_CLOSE_S, _close_if_idle, (model, pool))
                timer.daemon = True
                _timers[model] = timer
                timer.start()


def _close_if_idle(model: str | None, pool: WorkerPool) -> None:
    with _lock:
        if _users.get(model) or _pools.get(model) is not pool:
            return
        del _pools[model]
        _timers.pop(model, None)
    pool.close()


def close_filing_pools() -> None:
    """Stop every idle filing pool of this process now (tests, shutdown)."""
    with _lock:
        idle = [m for m in _pools if not _users.get(m)]
        pools = [_pools.pop(m) for m in idle]
        for model in idle:
            timer = _timers.pop(model, None)
            if timer is not None:
                timer.cancel()
    for pool in pools:
        pool.close()
