"""Which host this process runs on, and how much RAM its ledger may hand out.

A cluster's workers are hosts: each has its own ledger (`MEMWISE_LEDGER_DIR`), its own
name in the step figures (`MEMWISE_HOST_ID`, default the machine's host name) and may be
given a pool smaller than its RAM (`MEMWISE_POOL_MB`), so that two workers on one machine
can stand for a small and a large host.
"""

from __future__ import annotations

import math
import os
import socket

HOST_ID_ENV = "MEMWISE_HOST_ID"
POOL_ENV = "MEMWISE_POOL_MB"


def host_id() -> str:
    """This host's name in step figures: $MEMWISE_HOST_ID, else the machine's host name."""
    return os.environ.get(HOST_ID_ENV) or socket.gethostname()


def host_pool_mb() -> float | None:
    """The ledger pool of this host from $MEMWISE_POOL_MB (None: not set, use RAM)."""
    raw = os.environ.get(POOL_ENV)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{POOL_ENV} must be a number of MB; got {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{POOL_ENV} must be a finite number of MB > 0; got {raw!r}")
    return value
