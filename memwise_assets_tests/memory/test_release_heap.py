"""release_free_heap: memory freed into the allocator's arenas goes back to the OS."""

import gc

import numpy as np

from memwise_assets.memory import current_rss_mb, release_free_heap


def test_freed_small_arrays_leave_rss_after_a_release() -> None:
    # Many small arrays live in malloc arenas, not mmaps; keeping every 50th one pins the
    # arenas' tops, so only an explicit trim can return the holes between them.
    blocks = [np.ones(100) for _ in range(400_000)]
    pinned = blocks[::50]
    del blocks
    gc.collect()
    before = current_rss_mb(include_children=False)
    assert release_free_heap() is True
    after = current_rss_mb(include_children=False)
    assert before - after > 100, f"rss {before:.0f} MB -> {after:.0f} MB"
    assert len(pinned) == 8_000
