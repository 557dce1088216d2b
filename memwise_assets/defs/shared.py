"""Small helpers every asset module shares: the memwise home and a frame's size.

They sit apart from the memory resource so that modules which only need a folder or a size
(the IO manager, step limits, filings) do not import the resource, and the
resource does not have to be imported lazily to dodge a cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from memwise_assets.defs.budgets import MB


def memwise_home() -> Path:
    """Where memwise keeps its ledger, caches, data and dead letters by default."""
    home = os.environ.get("DAGSTER_HOME") or os.path.abspath(".memwise_home")
    return Path(home) / "memwise"


def frame_mb(frame: pd.DataFrame) -> float:
    """In-memory size of a frame in MB, strings included: the input size estimates scale by."""
    return float(frame.memory_usage(deep=True).sum()) / MB
