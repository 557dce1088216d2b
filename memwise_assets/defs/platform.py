"""The platform's definitions: the memory resource, the IO manager, the run-guarded executor,
the cache purges after every run and the recovery of dead runs.

Every domain's steps need these; no domain owns them. `memwise_assets/definitions.py` merges
them with the domains' own definitions.
"""

import dagster as dg

from memwise_assets.defs.automation import (
    purge_cache_on_cancel,
    purge_cache_on_failure,
    purge_cache_on_success,
)
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.recovery import recover_dead_runs_sensor
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.run_guard import memwise_executor


def build(
    memory: MemoryResource | None = None,
    io_manager: ParquetIOManager | None = None,
    executor: dg.ExecutorDefinition | None = None,
) -> dg.Definitions:
    """The platform's definitions with these resources (defaults: everything under
    $DAGSTER_HOME) and this executor (default: the run-guarded multiprocess one)."""
    return dg.Definitions(
        sensors=[
            purge_cache_on_failure,
            purge_cache_on_cancel,
            purge_cache_on_success,
            recover_dead_runs_sensor,
        ],
        resources={
            "memory": memory or MemoryResource(),
            "io_manager": io_manager or ParquetIOManager(),
        },
        # Dagster's default executor, whose orchestrator records itself and mends dead runs
        # before claiming pool slots: a plain CLI backfill recovers from a killed one.
        executor=executor or memwise_executor,
    )
