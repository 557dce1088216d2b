"""How the weekly pass uses the machine: 4 KB pages, and both cores where numpy lets go of the GIL.

Pages. numpy asks for transparent huge pages on every large array (madvise). On this
kind of VM a huge page's first touch is slow: in a fresh process, writing a fresh 240 MB
array took 0.38-0.41 s with huge pages and 0.09 s with 4 KB pages (`python -c` on
2 cores, 2026-12), and the weekly pass on 1,000 x 2,520 went from 1.3 s to 0.7 s cold. A
Dagster step is always a fresh process, so the weekly pass turns the advice off while it runs
and restores whatever was set before.

Threads. Gathers, reductions and ufuncs on large arrays release the GIL, so independent
columns (the bars' high, low, volume and open; the two halves of the features; the attach's
columns) run on two threads. Only the arrays' memory is shared; no array is written by two.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np

T = TypeVar("T")
THREADS = 2
# Below this many rows a thread's start costs more than it saves.
_MIN_PARALLEL_ROWS = 1 << 16

# numpy's own switch (numpy/_core/multiarray.py); absent on other builds: then a no-op.
_SET_HUGEPAGE = getattr(np._core.multiarray, "_set_madvise_hugepage", None)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: freed memory is returned as that allocator sees fit


_TRIM = _malloc_trim()


@contextmanager
def small_pages() -> Iterator[None]:
    """Allocate new numpy arrays without the huge-page advice inside the block.

    On leaving, the heap is trimmed: the worker threads' malloc arenas keep what the pass
    freed (110 MB on 1,000 x 2,520), which would otherwise count against the step's budget.
    """
    before = _SET_HUGEPAGE(False) if _SET_HUGEPAGE is not None else None
    try:
        yield
    finally:
        if _SET_HUGEPAGE is not None:
            _SET_HUGEPAGE(before)
        if _TRIM is not None:
            _TRIM(0)


def in_parallel(tasks: list[Callable[[], T]], rows: int) -> list[T]:
    """Results of `tasks` in order, run on two threads when the arrays are large."""
    if rows < _MIN_PARALLEL_ROWS or len(tasks) < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda task: task(), tasks))
