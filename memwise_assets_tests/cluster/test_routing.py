"""Size-class routing, the watch on a step's worker, host identity and pool, the cluster CLI."""

from __future__ import annotations

import math

import pytest

from memwise_assets.cluster import executor
from memwise_assets.cluster.executor import WatchedResult, WorkerLost, Workers
from memwise_assets.cluster.local import instance_config
from memwise_assets.cluster.routing import (
    DEFAULT_QUEUE,
    SIZE_CLASSES,
    assign_queues,
    queue_for,
    size_class_for,
)
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory.host import HOST_ID_ENV, POOL_ENV, host_id, host_pool_mb


def test_a_step_goes_to_the_smallest_class_that_holds_its_estimate() -> None:
    assert [queue_for(mb) for mb in (0, 500, 2048, 2049, 8192, 50_000)] == [
        "memwise-small", "memwise-small", "memwise-small",
        "memwise-medium", "memwise-medium", "memwise-large",
    ]  # fmt: skip
    assert math.isinf(SIZE_CLASSES[-1].up_to_mb)
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="finite"):
            size_class_for(bad)


def test_classes_go_to_the_smallest_hosts_that_hold_them_and_big_hosts_stay_free() -> None:
    queues = assign_queues({"host-a": 3072, "host-b": 9216})
    assert queues == {
        "host-a": [DEFAULT_QUEUE, "memwise-small"],
        "host-b": [DEFAULT_QUEUE, "memwise-medium", "memwise-large"],
    }
    # One small host serves every class: its ledger refuses at once what exceeds its pool.
    assert assign_queues({"laptop": 500}) == {
        "laptop": [DEFAULT_QUEUE, "memwise-small", "memwise-medium", "memwise-large"]
    }
    # Hosts of the same size share the classes.
    same = assign_queues({"a": 4096, "b": 4096})
    assert same["a"] == same["b"] == [DEFAULT_QUEUE, *(c.queue for c in SIZE_CLASSES)]
    with pytest.raises(ValueError, match="pools"):
        assign_queues({"x": 0})


class _FakeResult:
    def __init__(self, state: str, info: object = None) -> None:
        self.state, self.info = state, info
        self.revoked = False

    def ready(self) -> bool:
        return self.state in {"SUCCESS", "FAILURE"}

    def get(self) -> list:
        return ["events"]

    def revoke(self) -> None:
        self.revoked = True


class _FakeWorkers(Workers):
    def __init__(self, alive: bool, queues: dict[str, list[str]]) -> None:
        self._alive, self.queues = alive, queues

    def refresh(self) -> dict[str, list[str]]:
        return self.queues

    def alive(self, name: str) -> bool:
        return self._alive


@pytest.fixture
def fast_watch(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = [1000.0]
    monkeypatch.setattr(executor.time, "monotonic", lambda: clock[0])
    return clock


def test_a_silent_worker_fails_its_step_after_the_grace_with_the_reason(
    fast_watch: list[float],
) -> None:
    started = _FakeResult("STARTED", {"hostname": "host-a@vm", "pid": 42})
    watched = WatchedResult(started, "daily_bars", "memwise-small", _FakeWorkers(False, {}))
    assert not watched.ready()  # silent since now: not yet lost
    fast_watch[0] += executor.LOST_AFTER_S + executor.CHECK_EVERY_S
    assert watched.ready()
    with pytest.raises(WorkerLost, match=r"host-a@vm \(pid 42\) stopped answering.*daily_bars"):
        watched.get()


def test_a_live_worker_or_a_served_queue_is_never_given_up(fast_watch: list[float]) -> None:
    started = _FakeResult("STARTED", {"hostname": "host-b@vm", "pid": 7})
    alive = WatchedResult(started, "weighted_labels", "memwise-large", _FakeWorkers(True, {}))
    queued = WatchedResult(
        _FakeResult("PENDING"), "x", "memwise-small",
        _FakeWorkers(False, {"host-a@vm": ["dagster", "memwise-small"]}),
    )  # fmt: skip
    for _ in range(20):
        fast_watch[0] += executor.CHECK_EVERY_S
        assert not alive.ready() and not queued.ready()
    assert alive.get() == ["events"]


def test_a_task_on_a_queue_nobody_serves_fails_instead_of_waiting(fast_watch: list[float]) -> None:
    orphan = WatchedResult(
        _FakeResult("PENDING"), "weighted_labels", "memwise-large",
        _FakeWorkers(False, {"host-a@vm": ["dagster", "memwise-small"]}),
    )  # fmt: skip
    assert not orphan.ready()
    fast_watch[0] += executor.LOST_AFTER_S + executor.CHECK_EVERY_S
    assert orphan.ready()
    with pytest.raises(WorkerLost, match="no live worker serves"):
        orphan.get()


class _BrokerDown(_FakeResult):
    def ready(self) -> bool:
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")


def test_a_broker_away_for_a_moment_is_waited_for_and_one_gone_fails_the_step(
    fast_watch: list[float],
) -> None:
    flaky = _BrokerDown("STARTED")
    watched = WatchedResult(flaky, "daily_bars", "memwise-small", _FakeWorkers(True, {}))
    assert not watched.ready()
    fast_watch[0] += executor.LOST_AFTER_S / 2
    assert not watched.ready()
    fast_watch[0] += executor.LOST_AFTER_S
    assert watched.ready()
    with pytest.raises(WorkerLost, match="broker did not answer"):
        watched.get()


def test_host_identity_and_pool_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv(HOST_ID_ENV, "host-z")
    monkeypatch.setenv(POOL_ENV, "1234")
    assert host_id() == "host-z" and host_pool_mb() == 1234.0
    memory = MemoryResource(ledger_dir=str(tmp_path / "ledger"))
    assert memory.ledger.pool_mb == 1234.0
    # A run's own pool_mb still wins over the host's.
    assert MemoryResource(ledger_dir=str(tmp_path / "l2"), pool_mb=99).ledger.pool_mb == 99
    monkeypatch.setenv(POOL_ENV, "lots")
    with pytest.raises(ValueError, match="MEMWISE_POOL_MB"):
        host_pool_mb()
    monkeypatch.delenv(HOST_ID_ENV)
    monkeypatch.delenv(POOL_ENV)
    assert host_id() and host_pool_mb() is None


def test_the_cluster_instance_is_postgres_with_the_queue_monitoring_and_pools() -> None:
    import dagster as dg
    from dagster._core.instance.config import dagster_instance_config_schema

    config = instance_config()
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["pools"]["default_limit"] == 1
    result = dg._config.validate_config(dagster_instance_config_schema(), config)  # noqa: SLF001
    assert result.success, result.errors


def test_cluster_cli_refuses_a_bad_host_and_a_missing_cluster(tmp_path, capsys) -> None:
    from memwise_assets.cli.commands import main

    with pytest.raises(SystemExit):
        main(["cluster", "up", "--host", "no-pool"])
    assert "NAME=POOL_MB" in capsys.readouterr().err
    assert main(["cluster", "status", "--root", str(tmp_path)]) == 1
    assert "run `up` first" in capsys.readouterr().err
