"""Scale-out: the refresh part of the graph on a two-worker Dask cluster, same memwise metadata."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.definitions import dask_refresh_job
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.scale import DASK_JOB_NAME, dask_run_config
from memwise_assets.memory import MemoryLedger

distributed = pytest.importorskip("distributed")

MEMORY_KEYS = {"dagster/row_count", *StepFigures.REQUIRED_KEYS}
REFRESHED = ("weekly_features", "daily_with_weekly_features", "weighted_labels")


def _bars(home: Path, instance: dg.DagsterInstance) -> None:
    from memwise_assets.defs.prices.assets import daily_bars

    result = dg.materialize(
        [daily_bars],
        instance=instance,
        resources={
            "memory": MemoryResource(home_dir=str(home)),
            "io_manager": ParquetIOManager(base_dir=str(home / "data")),
        },
        run_config={"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT", "SPY"]}}}},
        tags={
            "dagster/asset_partition_range_start": "2024-01",
            "dagster/asset_partition_range_end": "2024-03",
        },
    )
    assert result.success


@pytest.mark.slow
def test_refresh_materializes_on_a_dask_cluster_with_memory_metadata(dagster_home: Path) -> None:
    home = dagster_home / "memwise"  # absolute: workers resolve it in their own processes
    with dg.DagsterInstance.get() as instance:
        _bars(home, instance)
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            memory_limit="1.5GiB",
            dashboard_address=None,
        ) as cluster:
            worker_pids = {
                info["pid"] for info in cluster.scheduler_info["workers"].values() if "pid" in info
            } or {w.process.pid for w in cluster.workers.values()}
            result = dg.execute_job(
                dg.reconstructable(dask_refresh_job),
                instance=instance,
                run_config=dask_run_config(
                    cluster.scheduler_address, memory_home=home, data_dir=home / "data"
                ),
            )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert result.dagster_run.job_name == DASK_JOB_NAME
        for name in REFRESHED:
            record = instance.fetch_materializations(dg.AssetKey(name), limit=1).records[0]
            meta = record.asset_materialization.metadata
            assert MEMORY_KEYS <= set(meta), f"{name} lacks {MEMORY_KEYS - set(meta)}"
            figures = StepFigures.from_metadata(meta)
            assert figures is not None and figures.within_limit is True
            assert figures.peak_rss_mb > 50  # a real worker process, not zero
            assert meta["dagster/row_count"].value > 0
    # Every step was admitted on the host ledger by a worker process, none by this one.
    events = MemoryLedger(home / "ledger", pool_mb=1).history()
    admits = [e for e in events if e["event"] == "admit" and result.run_id[:8] in e["label"]]
    assert len(admits) == len(REFRESHED)
    assert {e["pid"] for e in admits} <= worker_pids
    stored = pd.read_parquet(home / "data" / "daily_with_weekly_features")
    assert set(stored["symbol"].astype(str)) == {"AAPL", "MSFT", "SPY"}
    assert not any((home / "cache").glob(f"{result.run_id}/*/*"))
