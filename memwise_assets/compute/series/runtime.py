"""How the weekly pass uses the machine: 4 KB pages, and both cores where numpy lets go of the GIL.

Pages. numpy asks for transparent huge pages on every large array (madvise). On this
kind of VM a huge page's first touch is slow: in a fresh process, writing a fresh 240 MB
array took 0.38-0.41 s with huge pages and 0.09 s with 4 KB pages (`python -c` on
2 cores, 2026-12), and the weekly pass on 1,000 x 2,520 went from 1.3 s to 0.7 s cold. A
Dagster step is always a fresh process, so the weekly pass turns the advice off while it runs
and restores whatever was set before. (Measured again 2026-12-02 with 18 GB free: a lone
240 MB fill was faster with huge pages, 0.045 s against 0.11 s, but the whole pass, and even
the attach's output block alone, spent 2-4x the kernel time with them: the advice stays off.)

Threads. Gathers, in-place arithmetic and ufuncs on large arrays release the GIL (`ufunc.at`
does not), so independent columns (the bars' five prices; the two halves of the features; the
attach's columns) and the two halves of a row numbering run on two threads. Only the arrays'
memory is shared; no element is written by two.
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
# Rows per chunk of a chunked pass: its int64 temporaries (512 KB) stay in cache.
_CHUNK_ROWS = 1 << 16

# numpy's own switch (numpy/_core/multiarray.py); absent on other builds: then a no-op.
_SET_HUGEPAGE = getattr(np._core.multiarray, "_set_madvise_hugepage", None)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        libc = None
    if libc is None or not (hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt")):
        return None  # not glibc: memory is kept and returned as that allocator sees fit
    return libc


_LIBC = _glibc()
# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Inside the pass, arrays up to this size come from the heap and freed ones are reused.
_HEAP_ARRAYS = 32 * 2**20
# On leaving: glibc's own thresholds adjust themselves, and once set they cannot be handed
# back to it, so the pass leaves the values they reach by themselves once a process has
# freed a 32 MB array (mmap threshold 32 MB, trim threshold twice that).
_AFTER_MMAP, _AFTER_TRIM = _HEAP_ARRAYS, 2 * _HEAP_ARRAYS
_KEEP_FREED = 2**31 - 1  # the largest trim threshold mallopt takes: never trim


@contextmanager
def small_pages() -> Iterator[None]:
    """Allocate new numpy arrays without the huge-page advice inside the block.

    Inside, glibc keeps what the pass frees for its next arrays instead of handing it back
    at once: the pass frees and allocates hundreds of daily- and weekly-length temporaries,
    and each fresh one costs its page faults again (on 1,000 x 2,520 the pass took 150,000
    minor faults, about 25,000 fewer this way). Arrays above 32 MB (the attach's output) still get
    their own mapping. On leaving, the heap is trimmed, the worker threads' arenas too, so
    the step's budget does not count freed memory, and the thresholds are left where glibc's
    own would stand in a process that has used large arrays.
    """
    before = _SET_HUGEPAGE(False) if _SET_HUGEPAGE is not None else None
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _HEAP_ARRAYS)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED)
    try:
        yield
    finally:
        if _SET_HUGEPAGE is not None:
            _SET_HUGEPAGE(before)
        if _LIBC is not None:
            _LIBC.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM)
            _LIBC.mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP)
            _LIBC.malloc_trim(0)


def release_freed() -> None:
    """Hand what the pass has freed so far back to the system (before a large allocation, so
    that kept temporaries do not add to the step's peak)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def chunks(rows: int, size: int = _CHUNK_ROWS) -> list[slice]:
    """The rows in runs of `size`, for passes whose temporaries should stay in cache."""
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


def halves(rows: int) -> list[slice]:
    """The rows split in two, one part per thread."""
    middle = rows // 2
    return [slice(0, middle), slice(middle, rows)]


def in_parallel(tasks: list[Callable[[], T]], rows: int) -> list[T]:
    """Results of `tasks` in order, run on two threads when the arrays are large."""
    if rows < _MIN_PARALLEL_ROWS or len(tasks) < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda task: task(), tasks))
