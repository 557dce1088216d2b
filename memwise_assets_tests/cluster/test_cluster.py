"""The Celery cluster for real: a backfill over two hosts, the run queue, a host killed mid-step."""

from __future__ import annotations

import gzip
import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from memwise_assets.cluster.local import LocalCluster
from memwise_assets.defs.scale import HEAVY_STEPS
from memwise_assets.memory import MemoryLedger
from memwise_assets_tests.cluster.client import (
    SLOW_DEFS,
    launch_backfill,
    launch_run,
    wait_for_runs,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FILINGS = Path(__file__).parents[1] / "fixtures" / "filings"
STEP_FIGURES = {
    "memwise/host",
    "memwise/peak_rss_mb",
    "memwise/rss_increase_mb",
    "memwise/limit_mb",
    "memwise/within_limit",
    "memwise/estimate_mb",
    "memwise/estimator",
    "memwise/seconds",
}
# Pools of the heavy steps (dagster.yaml: default_limit 1 each, across the cluster).
POOLS = {"daily_bars": "prices", "weighted_labels": "labels", "sec_filing_sections": "filings"}
POOL_LIMIT = 1


class LedgerSampler:
    """Reads every host's reserved MB a few times a second while a test runs."""

    def __init__(self, cluster: LocalCluster) -> None:
        self._ledgers = {
            name: MemoryLedger(cluster.ledger_dir(name), pool_mb=host.pool_mb)
            for name, host in cluster.hosts.items()
        }
        self.peak = dict.fromkeys(self._ledgers, 0.0)
        self.samples = 0
        self._stop = threading.Event()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for name, ledger in self._ledgers.items():
                self.peak[name] = max(self.peak[name], ledger.reserved_mb())
            self.samples += 1
            self._stop.wait(0.2)

    @contextmanager
    def running(self) -> Iterator[LedgerSampler]:
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(10)

    def history_peak(self) -> dict[str, float]:
        """Each host's largest reserved total after any admission, from its ledger history."""
        return {
            name: max((e["total_mb"] for e in ledger.history()), default=0.0)
            for name, ledger in self._ledgers.items()
        }


def _step_intervals(
    instance: dg.DagsterInstance, run_ids: list[str]
) -> dict[str, list[tuple[float, float]]]:
    """Step key -> (start, end) timestamps of its executions in these runs."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for run_id in run_ids:
        started: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[entry.step_key] = entry.timestamp
            elif event.event_type in (
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            ):
                start = started.pop(entry.step_key)
                spans.setdefault(entry.step_key, []).append((start, entry.timestamp))
    return spans


def _failures(instance: dg.DagsterInstance, run_id: str) -> str:
    """The failure messages of a run, for assertion messages."""
    return " | ".join(
        f"{e.step_key}: {e.user_message} {e.dagster_event.event_specific_data}"[:1500]
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.is_failure
    )


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    at_once = most = 0
    for _, step in edges:
        at_once += step
        most = max(most, at_once)
    return most


def _assert_pools_held(instance: dg.DagsterInstance, run_ids: list[str]) -> None:
    spans = _step_intervals(instance, run_ids)
    for pool in set(POOLS.values()):
        in_pool = [s for key, ss in spans.items() if POOLS.get(key) == pool for s in ss]
        assert _most_at_once(in_pool) <= POOL_LIMIT, f"pool {pool}: {sorted(in_pool)}"


def _backfill_runs(instance: dg.DagsterInstance, backfill_id: str, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill.status != BulkActionStatus.REQUESTED:
            break
        assert time.monotonic() < deadline, f"backfill still {backfill.status} after {timeout_s} s"
        time.sleep(2)
    runs = instance.get_runs(dg.RunsFilter.for_backfill(backfill_id))
    return list(wait_for_runs(instance, [r.run_id for r in runs], timeout_s).values())


def _held(seconds: int) -> dict:
    """Run config of the slow job: its step holds its reservation this many seconds."""
    return {"ops": {"held_reservation": {"config": {"seconds": seconds}}}}


def _succeeds(instance: dg.DagsterInstance, run_id: str) -> None:
    assert wait_for_runs(instance, [run_id], 240)[run_id].status == dg.DagsterRunStatus.SUCCESS


def test_backfill_spreads_over_both_hosts_within_pools_and_budgets(
    cluster: LocalCluster, cluster_instance: dg.DagsterInstance
) -> None:
    instance = cluster_instance
    keys = []
    for packed in sorted(FILINGS.glob("*.gz"))[:10]:
        key = packed.name.removesuffix(".gz")
        (cluster.landing_dir / key).write_bytes(gzip.decompress(packed.read_bytes()))
        keys.append(key)
    assert len(keys) == 10
    instance.add_dynamic_partitions("sec_filings", keys)
    assert cluster.state is not None and cluster.state.webserver_port
    with LedgerSampler(cluster).running() as sampler:
        backfill_id = launch_backfill(
            cluster.state.webserver_port,
            {
                "daily_bars": ("2024-01", "2024-03"),
                "weekly_features": None,
                "weighted_labels": None,
                "sec_filing_sections": (keys[0], keys[-1]),
            },
        )
        runs = _backfill_runs(instance, backfill_id, timeout_s=420)
    failed = {r.run_id: _failures(instance, r.run_id) for r in runs if r.status.value != "SUCCESS"}
    assert not failed, failed
    assert instance.get_backfill(backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS

    run_ids = [r.run_id for r in runs]
    figures: dict[tuple[str, str], dict] = {}
    for name in ("daily_bars", "weekly_features", "weighted_labels", "sec_filing_sections"):
        records = instance.fetch_materializations(dg.AssetKey(name), limit=100).records
        mine = [r for r in records if r.run_id in run_ids]
        assert mine, f"{name} was not materialized by the backfill"
        for record in mine:
            meta = record.asset_materialization.metadata
            if "memwise/host" in meta:
                figures[(record.run_id, name)] = meta
        if name == "sec_filing_sections":
            stored = {r.asset_materialization.partition for r in mine}
            assert stored == set(keys), f"filings not stored: {set(keys) - stored}"
        if name == "daily_bars":
            assert {r.asset_materialization.partition for r in mine} == {
                "2024-01",
                "2024-02",
                "2024-03",
            }
    # Every step (run, asset) recorded its memory figures, with the host it ran on.
    steps = {(run_id, key) for run_id, ss in _run_steps(instance, run_ids) for key in ss}
    assert steps == set(figures), f"steps without figures: {steps - set(figures)}"
    for (_, name), meta in figures.items():
        assert STEP_FIGURES <= set(meta), f"{name} lacks {STEP_FIGURES - set(meta)}"
        assert meta["memwise/within_limit"].value is True
    hosts = {key[1]: meta["memwise/host"].value for key, meta in figures.items()}
    assert set(hosts.values()) == {"host-a", "host-b"}, hosts
    # Routed by size class: labels (an 8 GB budget) only fit host-b; prices went to host-a.
    assert hosts["weighted_labels"] == "host-b" and hosts["daily_bars"] == "host-a", hosts
    # Steps of one run spread over both hosts (the run of weekly features and labels).
    by_run: dict[str, set[str]] = {}
    for (run_id, _), meta in figures.items():
        by_run.setdefault(run_id, set()).add(meta["memwise/host"].value)
    assert any(len(h) == 2 for h in by_run.values()), by_run

    assert sampler.samples > 10
    for name, host in cluster.hosts.items():
        assert sampler.peak[name] <= host.pool_mb, (name, sampler.peak[name])
        assert sampler.history_peak()[name] <= host.pool_mb
    assert max(sampler.history_peak().values()) > 0  # the hosts' ledgers did admit the steps
    _assert_pools_held(instance, run_ids)


def _run_steps(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[str, set[str]]]:
    """(run id, heavy steps it ran) for each run."""
    out = []
    for run_id in run_ids:
        keys = {
            e.step_key
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
            if e.step_key in HEAVY_STEPS and e.step_key != "daily_with_weekly_features"
        }
        out.append((run_id, keys))
    return out


def test_five_concurrent_runs_through_the_queue_all_succeed_within_the_prices_pool(
    cluster: LocalCluster, cluster_instance: dg.DagsterInstance
) -> None:
    assert cluster.state is not None and cluster.state.webserver_port
    config = {"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "MSFT", "SPY"]}}}}
    run_ids = [
        launch_run(
            cluster.state.webserver_port,
            "daily_prices",
            run_config=config,
            tags={"dagster/partition": f"2023-0{month}"},
        )
        for month in range(1, 6)
    ]
    runs = wait_for_runs(cluster_instance, run_ids, timeout_s=300)
    assert len(runs) == 5
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs.values()), {
        k: r.status for k, r in runs.items()
    }
    # Every run went through the queue (the instance's QueuedRunCoordinator).
    for run_id in run_ids:
        types = {e.dagster_event.event_type for e in cluster_instance.all_logs(run_id)
                 if e.dagster_event}  # fmt: skip
        assert dg.DagsterEventType.PIPELINE_ENQUEUED in types
    stored = {
        r.asset_materialization.partition
        for r in cluster_instance.fetch_materializations(dg.AssetKey("daily_bars"), 50).records
        if r.run_id in run_ids
    }
    assert stored == {f"2023-0{m}" for m in range(1, 6)}
    _assert_pools_held(cluster_instance, run_ids)


def _holder(cluster: LocalCluster, run_id: str, timeout_s: float) -> str:
    """The host whose ledger holds the run's reservation (waits for it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, host in cluster.hosts.items():
            ledger = MemoryLedger(cluster.ledger_dir(name), pool_mb=host.pool_mb)
            if any(r["label"].startswith(run_id[:8]) for r in ledger.snapshot()):
                return name
        time.sleep(0.5)
    raise TimeoutError(f"no host admitted run {run_id} within {timeout_s} s")


def test_kill_9_of_the_host_running_a_step_fails_the_run_and_frees_its_reservation(
    cluster: LocalCluster, cluster_instance: dg.DagsterInstance
) -> None:
    assert cluster.state is not None and cluster.state.webserver_port
    port = cluster.state.webserver_port
    hold = _held(600)
    run_id = launch_run(port, "__ASSET_JOB", run_config=hold, location=SLOW_DEFS)
    victim = _holder(cluster, run_id, timeout_s=180)
    cluster.kill_worker(victim)
    killed_at = time.monotonic()
    run = wait_for_runs(cluster_instance, [run_id], timeout_s=240)[run_id]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert time.monotonic() - killed_at < 120  # the detection bound we promise (typically ~40 s)
    reasons = " ".join(
        e.user_message + str(e.dagster_event.event_specific_data or "")
        for e in cluster_instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.is_failure
    )
    assert "stopped answering" in reasons and victim in reasons, reasons
    # Stored outputs are intact: every file in the shared folder still reads whole.
    for path in cluster.data_dir.rglob("*.parquet"):
        pq.read_table(path)

    # The host comes back: its worker reclaims what the killed step held, at start.
    cluster.start_worker(victim)
    ledger = MemoryLedger(cluster.ledger_dir(victim), pool_mb=cluster.hosts[victim].pool_mb)
    deadline = time.monotonic() + 120
    while not any(
        e["event"] == "reclaim" and e["label"].startswith(run_id[:8]) for e in ledger.history()
    ):
        assert time.monotonic() < deadline, "the restarted worker did not reclaim the reservation"
        time.sleep(1)
    assert not [r for r in ledger.snapshot() if r["label"].startswith(run_id[:8])]

    short = _held(1)
    next_id = launch_run(port, "__ASSET_JOB", run_config=short, location=SLOW_DEFS)
    _succeeds(cluster_instance, next_id)


def test_a_broker_restart_mid_step_ends_the_run_cleanly_and_the_cluster_goes_on(
    cluster: LocalCluster, cluster_instance: dg.DagsterInstance
) -> None:
    assert cluster.state is not None and cluster.state.webserver_port
    port = cluster.state.webserver_port
    hold = _held(8)
    run_id = launch_run(port, "__ASSET_JOB", run_config=hold, location=SLOW_DEFS)
    _holder(cluster, run_id, timeout_s=180)
    cluster.restart_broker()
    # Resumed (the step's result reached the restarted Redis) or failed with a reason:
    # never left in progress.
    run = wait_for_runs(cluster_instance, [run_id], timeout_s=240)[run_id]
    if run.status != dg.DagsterRunStatus.SUCCESS:
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert "broker" in _failures(cluster_instance, run_id)
    short = _held(1)
    next_id = launch_run(port, "__ASSET_JOB", run_config=short, location=SLOW_DEFS)
    _succeeds(cluster_instance, next_id)


def test_a_postgres_restart_mid_step_ends_the_run_cleanly_and_the_cluster_goes_on(
    cluster: LocalCluster, cluster_instance: dg.DagsterInstance
) -> None:
    assert cluster.state is not None and cluster.state.webserver_port
    port = cluster.state.webserver_port
    hold = _held(8)
    run_id = launch_run(port, "__ASSET_JOB", run_config=hold, location=SLOW_DEFS)
    _holder(cluster, run_id, timeout_s=180)
    cluster.restart_postgres()
    run = wait_for_runs(cluster_instance, [run_id], timeout_s=240)[run_id]
    assert run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    short = _held(1)
    # The webserver's first requests may meet connections the restart closed (HTTP 500);
    # a request again a moment later goes through.
    errors: list[str] = []
    for _ in range(10):
        try:
            next_id = launch_run(port, "__ASSET_JOB", run_config=short, location=SLOW_DEFS)
            break
        except urllib.error.HTTPError as error:
            errors.append(str(error))
            time.sleep(3)
    else:
        raise AssertionError(f"the webserver never recovered from the restart: {errors}")
    _succeeds(cluster_instance, next_id)
