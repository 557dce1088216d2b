"""Moved to `memwise_assets.memory.run_metrics` (it never imported Dagster).

Kept only for `defs/io_manager.py`, whose owner switches its import; then this file goes.
"""

from memwise_assets.memory.run_metrics import METRICS_FILE, record_step, run_dir, summarise

__all__ = ["METRICS_FILE", "record_step", "run_dir", "summarise"]
