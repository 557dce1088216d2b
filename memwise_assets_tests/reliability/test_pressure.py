"""Memory pressure and a damaged ledger: admissions wait, never overcommit, and recover."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from memwise_assets.memory import MemoryLedger
from memwise_assets.memory import ledger as ledger_module
from memwise_assets.memory.ledger_file import DB_NAME
from memwise_assets_tests.builders.hostile import die_holding_the_ledger_lock, hold_memory
from memwise_assets_tests.builders.processes import wait_for_file
from memwise_assets_tests.reliability.toy_jobs import run_wide, steady

SPAWN = multiprocessing.get_context("spawn")
HOST_MB = 2000.0  # the simulated host: its "available" memory is HOST_MB minus the tenant's RSS
TENANT_MB = 1200


@pytest.mark.parametrize("tenant_reserves", [False, True], ids=["outside-ledger", "in-ledger"])
def test_admissions_wait_for_a_memory_hog_and_go_when_it_lets_go(
    tmp_path: Path, tenant_reserves: bool
) -> None:
    ready, release = tmp_path / "ready", tmp_path / "release"
    ledger_dir = tmp_path / "ledger"
    tenant = SPAWN.Process(
        target=hold_memory,
        args=(TENANT_MB, str(ready), str(release)),
        kwargs={"ledger_dir": str(ledger_dir), "pool_mb": 1600} if tenant_reserves else {},
    )
    tenant.start()
    wait_for_file(ready, alive=tenant.is_alive)
    holder = psutil.Process(tenant.pid)

    def host_available() -> float:
        try:
            return HOST_MB - holder.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            return HOST_MB

    assert host_available() < HOST_MB - 0.9 * TENANT_MB  # the tenant really holds its memory
    ledger = MemoryLedger(
        ledger_dir, pool_mb=1600, available_fn=host_available, total_fn=lambda: HOST_MB
    )
    admitted: dict[str, float] = {}
    errors: list[BaseException] = []

    def step(label: str) -> None:
        try:
            with ledger.reserve(500, timeout_s=30, label=label):
                admitted[label] = time.time()
                time.sleep(0.1)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(f"step-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    assert admitted == {}  # neither started while the tenant held the memory
    assert len(ledger.waiting()) == 2
    let_go = time.time()
    release.touch()
    for thread in threads:
        thread.join(40)
    tenant.join(10)
    assert errors == []
    assert tenant.exitcode == 0  # it let go on its own: nobody was OOM-killed
    assert sorted(admitted) == ["step-0", "step-1"]
    assert min(admitted.values()) >= let_go
    assert max(e["total_mb"] for e in ledger.history()) <= 1600


@pytest.mark.slow
def test_four_runs_at_once_never_overcommit_the_pool(tmp_path: Path) -> None:
    home, gate, pool_mb = tmp_path / "memwise", tmp_path / "go", 1000.0
    runs = [SPAWN.Process(target=run_wide, args=(str(home), pool_mb, str(gate))) for _ in range(4)]
    for run in runs:
        run.start()
    time.sleep(0.5)
    gate.touch()  # all four start their steps together
    for run in runs:
        run.join(180)
    assert [run.exitcode for run in runs] == [0, 0, 0, 0]
    history = MemoryLedger(home / "ledger", pool_mb=pool_mb).history()
    admits = [e for e in history if e["event"] == "admit"]
    assert len(admits) == 8 and all(e["mb"] == 400 for e in admits)  # 40 % of the pool each
    assert len({e["pid"] for e in admits}) == 4
    # total_mb is the reserved sum right after each event: never above the pool, and two
    # steps did run side by side (the ledger serialises only what does not fit).
    assert max(e["total_mb"] for e in history) == 800
    assert [e for e in history if e["total_mb"] > pool_mb] == []
    assert history[-1]["total_mb"] == 0


def test_dead_holder_and_dead_lock_owner_are_recovered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger_dir = tmp_path / "ledger"
    ready, release = tmp_path / "ready", tmp_path / "never"
    holder = SPAWN.Process(
        target=hold_memory,
        args=(10, str(ready), str(release)),
        kwargs={"ledger_dir": str(ledger_dir), "pool_mb": 1000},
    )
    holder.start()
    wait_for_file(ready, alive=holder.is_alive)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    # A second process dies while holding the ledger's file lock and SQLite write lock.
    locked = tmp_path / "locked"
    owner = SPAWN.Process(target=die_holding_the_ledger_lock, args=(str(ledger_dir), str(locked)))
    owner.start()
    owner.join(60)
    assert owner.exitcode == -signal.SIGKILL and locked.exists()
    ledger = MemoryLedger(ledger_dir, pool_mb=1000, available_fn=lambda: 1e12)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), ledger.reserve(995, timeout_s=5, label="after"):
        waited = time.monotonic() - started
        assert [r["label"] for r in ledger.snapshot()] == ["after"]
    assert waited < 2  # neither the dead holder's 10 MB nor the dead lock owner held it up
    assert f"reclaimed reservation 'holder-{holder.pid}' (10.0 MB) of dead pid {holder.pid}" in (
        caplog.text
    )
    assert "half-done" not in {e["event"] for e in ledger.history()}  # rolled back


def test_frozen_waiter_at_the_head_of_the_queue_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "STALE_WAITER_S", 1.0)
    ledger = MemoryLedger(tmp_path / "ledger", pool_mb=1000, available_fn=lambda: 1e12)
    blocker = ledger.reserve(900, label="blocker")
    # A live process queued first, then frozen (SIGSTOP): its entry stops beating.
    ready = tmp_path / "ready"
    waiter = SPAWN.Process(
        target=hold_memory,
        args=(500, str(ready), str(tmp_path / "never")),
        kwargs={"ledger_dir": str(tmp_path / "ledger"), "pool_mb": 1000},
    )
    waiter.start()
    try:
        deadline = time.monotonic() + 30
        while not ledger.waiting() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [w["pid"] for w in ledger.waiting()] == [waiter.pid]
        os.kill(waiter.pid, signal.SIGSTOP)
        blocker.release()
        with caplog.at_level(logging.WARNING), ledger.reserve(100, timeout_s=10, label="next"):
            assert not ready.exists()
        assert f"dropped queue entry 'holder-{waiter.pid}'" in caplog.text
        assert "no heartbeat" in caplog.text
    finally:
        os.kill(waiter.pid, signal.SIGKILL)
        waiter.join(10)


def test_corrupt_ledger_file_is_moved_aside_and_the_run_goes_on(
    memwise_resources, caplog: pytest.LogCaptureFixture
) -> None:
    memory = memwise_resources["memory"]
    ledger_dir = memory.home / "ledger"
    ledger_dir.mkdir(parents=True)
    (ledger_dir / DB_NAME).write_bytes(b"this is not a database" * 500)
    with caplog.at_level(logging.ERROR):
        result = dg.materialize([steady], resources=memwise_resources)
    assert result.success
    assert "was unreadable" in caplog.text and "started a new one" in caplog.text
    aside = sorted(p.name for p in ledger_dir.glob(f"{DB_NAME}.corrupt-*"))
    assert len(aside) == 1
    assert (ledger_dir / aside[0]).read_bytes().startswith(b"this is not a database")
    events = [e["event"] for e in memory.ledger.history()]
    assert events == ["admit", "release"]
