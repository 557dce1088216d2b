"""One local cluster for the cluster tests: Postgres, Redis, two workers, daemon, webserver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.cluster.local import DEFAULT_HOSTS, LocalCluster
from memwise_assets.cluster.servers import missing_servers
from memwise_assets_tests.cluster.client import SLOW_DEFS


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The cluster, up for one test module (hosts: host-a 3 GB, host-b 9 GB of pool).

    Module scope: its servers stop before the rest of the suite runs.
    """
    missing = missing_servers()
    if missing:
        pytest.skip(f"cluster tests need the server programs of: {', '.join(missing)} "
                    f"(apt-get install {' '.join(missing)}; .ci/run installs them)")  # fmt: skip
    local = LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        DEFAULT_HOSTS,
        extra_modules=[SLOW_DEFS],
        poll_s=5,
    )
    local.up()
    try:
        yield local
    finally:
        local.down()
        # Postgres keeps its data outside the test's folder (its user must reach it).
        if local.postgres is not None:
            shutil.rmtree(local.postgres.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_instance(cluster: LocalCluster) -> Iterator[dg.DagsterInstance]:
    """The cluster's instance (Postgres) as this test process sees it."""
    assert cluster.postgres is not None
    # The instance's dagster.yaml reads its Postgres settings from the environment.
    os.environ.update(cluster.postgres.env())
    with dg.DagsterInstance.from_config(str(Path(cluster.instance_home))) as instance:
        yield instance
