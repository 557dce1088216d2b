"""Which Celery queue a step goes to, and which queues each host serves.

Queues are size classes of the step's memory estimate. Each class is served by the
smallest hosts whose ledger pool holds its largest step, so small steps keep off the big
hosts, which stay free for the steps only they can run. A class no host holds whole goes to
the largest hosts, whose ledger refuses at once (never a wait) a step above its pool. A
queue no live worker serves fails its steps at submission (see `executor.py`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# Steps without a memory budget of their own (checks, light joins) go where Celery sends
# anything by default: every host serves it.
DEFAULT_QUEUE = "dagster"
# dagster-celery refuses a worker listening on more than four queues.
MAX_QUEUES_PER_WORKER = 4


@dataclass(frozen=True)
class SizeClass:
    """Steps whose estimate is at most `up_to_mb` (inf: the open-ended top class)."""

    name: str
    up_to_mb: float

    @property
    def queue(self) -> str:
        return f"memwise-{self.name}"


SIZE_CLASSES: tuple[SizeClass, ...] = (
    SizeClass("small", 2048.0),
    SizeClass("medium", 8192.0),
    SizeClass("large", math.inf),
)


def size_class_for(estimate_mb: float) -> SizeClass:
    """The smallest class holding a step of `estimate_mb`."""
    if not (math.isfinite(estimate_mb) and estimate_mb >= 0):
        raise ValueError(f"a step's estimate must be a finite number of MB >= 0; got {estimate_mb}")
    return next(c for c in SIZE_CLASSES if estimate_mb <= c.up_to_mb)


def queue_for(estimate_mb: float) -> str:
    """The queue of a step estimated at `estimate_mb`."""
    return size_class_for(estimate_mb).queue


def assign_queues(pools_mb: Mapping[str, float]) -> dict[str, list[str]]:
    """The queues each host (name -> ledger pool MB) listens on: best fit, big hosts kept free.

    Every host serves the default queue. A class goes to the hosts of the smallest pool that
    holds its largest step; a class no pool holds whole (the open-ended top class always)
    goes to the hosts of the largest pool, whose ledger refuses at once a step above it.
    """
    bad = {h: p for h, p in pools_mb.items() if not (math.isfinite(p) and p > 0)}
    if bad or not pools_mb:
        raise ValueError(f"hosts need finite pools > 0 MB; got {dict(pools_mb)}")
    queues = {host: [DEFAULT_QUEUE] for host in pools_mb}
    largest = max(pools_mb.values())
    for size_class in SIZE_CLASSES:
        fitting = [p for p in pools_mb.values() if p >= size_class.up_to_mb]
        chosen = min(fitting) if fitting else largest
        for host, pool in pools_mb.items():
            if pool == chosen and len(queues[host]) < MAX_QUEUES_PER_WORKER:
                queues[host].append(size_class.queue)
    return queues
