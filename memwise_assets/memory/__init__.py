"""The memory toolkit: probes, monitor, admission ledger, isolation and session caches.

Framework-free on purpose: no Dagster and no compute imports, so any process can use it.
"""

from memwise_assets.memory.cache import SessionCache, purge_stale_sessions
from memwise_assets.memory.estimate import (
    FileCategory,
    ResourceEstimate,
    estimate_for_file,
    estimate_for_size,
)
from memwise_assets.memory.isolation import IsolatedResult, run_isolated
from memwise_assets.memory.ledger import MemoryLedger
from memwise_assets.memory.monitor import MemoryLimitExceeded, MemoryMonitor
from memwise_assets.memory.pool import WorkerPool
from memwise_assets.memory.probe import (
    available_mb,
    cgroup_limit_mb,
    current_rss_mb,
    peak_rss_mb,
    release_free_heap,
    reset_peak,
    total_mb,
)
from memwise_assets.memory.reservation import AdmissionTimeout, OversizeRequest, Reservation

__all__ = [
    "AdmissionTimeout",
    "FileCategory",
    "IsolatedResult",
    "MemoryLedger",
    "MemoryLimitExceeded",
    "MemoryMonitor",
    "OversizeRequest",
    "Reservation",
    "ResourceEstimate",
    "SessionCache",
    "WorkerPool",
    "available_mb",
    "cgroup_limit_mb",
    "current_rss_mb",
    "estimate_for_file",
    "estimate_for_size",
    "peak_rss_mb",
    "purge_stale_sessions",
    "release_free_heap",
    "reset_peak",
    "run_isolated",
    "total_mb",
]
