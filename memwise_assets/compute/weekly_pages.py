"""Run a pass on 4 KB pages instead of numpy's transparent huge pages.

numpy asks the kernel for transparent huge pages on every large array (madvise). On this
kind of VM a huge page's first touch is slow: in a fresh process, writing a fresh 240 MB
array took 0.38-0.41 s with huge pages and 0.09 s with 4 KB pages (`python -c` on
2 cores, 2026-12), and the weekly pass on 1,000 x 2,520 went from 1.3 s to 0.7 s cold. A
Dagster step is always a fresh process, so the weekly pass turns the advice off while it runs
and restores whatever was set before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# numpy's own switch (numpy/_core/multiarray.py); absent on other builds: then a no-op.
_SET_HUGEPAGE = getattr(np._core.multiarray, "_set_madvise_hugepage", None)


@contextmanager
def small_pages() -> Iterator[None]:
    """Allocate new numpy arrays without the huge-page advice inside the block."""
    if _SET_HUGEPAGE is None:
        yield
        return
    before = _SET_HUGEPAGE(False)
    try:
        yield
    finally:
        _SET_HUGEPAGE(before)
