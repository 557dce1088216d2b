"""memwise's definitions for a Celery cluster: every job's steps run on the cluster's workers.

Loaded by the cluster's daemon, webserver and workers (`memwise cluster up` writes the
workspace). Steps of one run land on different hosts, so outputs live in one shared folder
($MEMWISE_DATA_DIR: a network file system between real hosts); each host keeps its own
ledger, pool and caches (see `memwise_assets.memory.host`).
"""

import dagster as dg

from memwise_assets.cluster.env import BACKEND_ENV, BROKER_ENV, DATA_DIR_ENV
from memwise_assets.cluster.executor import memwise_celery_executor
from memwise_assets.definitions import build_defs
from memwise_assets.defs.io_manager import ParquetIOManager

cluster_executor = memwise_celery_executor.configured(
    {"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}},
    name="memwise_cluster",
)

defs = build_defs(
    io_manager=ParquetIOManager(base_dir=dg.EnvVar(DATA_DIR_ENV)), executor=cluster_executor
)
