"""The Celery app of a memwise worker (`dagster-celery worker start -A` this module).

dagster-celery's app, plus what a memwise host needs: tasks recorded as STARTED with the
worker's name (the executor pings it while the step runs), and, when the worker comes up,
the reservations its host's dead processes left in the ledger reclaimed at once, and task
processes allowed children of their own (the filings step parses in a pool of workers).
"""

import logging
import multiprocessing
import os

from celery.signals import worker_process_init, worker_ready
from dagster_celery.app import app

from memwise_assets.memory import MemoryLedger
from memwise_assets.memory.host import host_id, host_pool_mb
from memwise_assets.memory.ledger_file import default_ledger_dir

__all__ = ["app"]

_log = logging.getLogger(__name__)

app.conf.task_track_started = True


@worker_ready.connect
def reclaim_dead_reservations(**_: object) -> None:
    """Drop what processes of this host killed with the last worker still hold."""
    ledger = MemoryLedger(default_ledger_dir(), pool_mb=host_pool_mb())
    reclaimed = ledger.reclaim_dead()
    _log.warning(
        "memwise host %s: ledger %s, pool %.0f MB, reclaimed %d entries of dead processes",
        host_id(),
        ledger.dir,
        ledger.pool_mb,
        len(reclaimed),
    )


@worker_process_init.connect
def allow_children(**_: object) -> None:
    """Let this task process start processes (Celery marks its pool processes daemonic).

    Python refuses children to a daemonic process; memwise's worker pools and isolated
    items need them, and tie them to their parent themselves (they die with it).
    """
    # This is billiard's process object: its setters would store billiard's types again.
    config = multiprocessing.current_process()._config  # noqa: SLF001
    config["daemon"] = False
    # billiard's key refuses to be pickled, and a spawned child is sent its parent's key.
    config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))
