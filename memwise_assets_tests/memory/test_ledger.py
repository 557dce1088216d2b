"""MemoryLedger: pool limits across processes, FIFO, timeouts, dead holders, corrupt files."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from memwise_assets.memory import AdmissionTimeout, MemoryLedger, OversizeRequest
from memwise_assets.memory.ledger_file import DB_NAME
from memwise_assets_tests.builders import workers

PLENTY = 1e12
_log = logging.getLogger(__name__)


def _ledger(path: Path, pool_mb: float = 8000.0, **kwargs: object) -> MemoryLedger:
    return MemoryLedger(path, pool_mb=pool_mb, available_fn=lambda: PLENTY, **kwargs)


def test_reserve_release_snapshot_and_history(tmp_path) -> None:
    ledger = _ledger(tmp_path)
    with ledger.reserve(3000, timeout_s=1, label="prices") as reservation:
        assert reservation.waited_s < 1.0
        assert ledger.reserved_mb() == 3000.0
        (live,) = ledger.snapshot()
        assert (live["label"], live["mb"], live["pid"]) == ("prices", 3000.0, os.getpid())
        assert abs(live["since"] - time.time()) < 60
    assert ledger.reserved_mb() == 0.0 and ledger.snapshot() == []
    events = [(e["event"], e["label"], e["mb"], e["total_mb"]) for e in ledger.history()]
    assert events == [("admit", "prices", 3000.0, 3000.0), ("release", "prices", 3000.0, 0.0)]


def test_default_pool_is_total_minus_reserve(tmp_path) -> None:
    ledger = MemoryLedger(tmp_path, total_fn=lambda: 10_000.0, available_fn=lambda: PLENTY)
    assert (ledger.pool_mb, ledger.reserve_mb) == (8000.0, 2000.0)


def test_oversize_request_fails_at_once(tmp_path) -> None:
    ledger = _ledger(tmp_path)
    started = time.monotonic()
    with pytest.raises(OversizeRequest, match=r"asked 9000.0 MB, pool 8000.0 MB"):
        ledger.reserve(9000, timeout_s=30, label="huge")
    assert time.monotonic() - started < 1.0
    with pytest.raises(ValueError, match="finite number"):
        ledger.reserve(-1)


def test_full_pool_times_out_and_leaves_no_queue_entry(tmp_path) -> None:
    ledger = _ledger(tmp_path)
    with ledger.reserve(6000, label="big"):
        started = time.monotonic()
        with pytest.raises(AdmissionTimeout, match="6000.0 MB of the 8000.0 MB pool"):
            ledger.reserve(3000, timeout_s=0.3, label="late")
        assert 0.3 <= time.monotonic() - started < 2.0
        assert ledger.waiting() == []


def test_low_available_memory_blocks_admission(tmp_path) -> None:
    # 10 GB total, so the reserve is 2 GB: 2.5 GB available leaves 500 MB for work.
    ledger = MemoryLedger(
        tmp_path, pool_mb=8000, total_fn=lambda: 10_000.0, available_fn=lambda: 2500.0
    )
    with ledger.reserve(500, timeout_s=0.1, label="fits"):
        pass
    with pytest.raises(AdmissionTimeout, match="only 500.0 MB available"):
        ledger.reserve(600, timeout_s=0.1, label="too much")


def test_large_request_queued_first_is_admitted_before_later_small_ones(tmp_path) -> None:
    ledger = _ledger(tmp_path)
    holder = ledger.reserve(6000, label="holder")
    admitted: list[str] = []

    def request(mb: float, label: str) -> None:
        with ledger.reserve(mb, timeout_s=10, label=label):
            admitted.append(label)
            time.sleep(0.05)

    def wait_queue(length: int) -> None:
        deadline = time.monotonic() + 5
        while len(ledger.waiting()) < length and time.monotonic() < deadline:
            time.sleep(0.01)

    threads = [threading.Thread(target=request, args=(5000, "large"))]
    threads[0].start()
    wait_queue(1)
    for label in ("small-1", "small-2"):
        # These fit beside the holder (6000 + 1000 <= 8000) but must not jump the queue.
        threads.append(threading.Thread(target=request, args=(1000, label)))
        threads[-1].start()
        wait_queue(len(threads))
    time.sleep(0.2)
    assert admitted == [] and [w["label"] for w in ledger.waiting()] == [
        "large",
        "small-1",
        "small-2",
    ]
    holder.release()
    for thread in threads:
        thread.join(10)
    assert admitted[0] == "large" and sorted(admitted[1:]) == ["small-1", "small-2"]
    admits = [e["label"] for e in ledger.history() if e["event"] == "admit"]
    assert admits[:2] == ["holder", "large"]


def test_corrupt_ledger_is_moved_aside_and_recreated(tmp_path, caplog) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    caplog.set_level(logging.ERROR, logger="memwise_assets.memory.ledger")
    ledger = _ledger(tmp_path)
    with ledger.reserve(100, label="after"):
        assert ledger.reserved_mb() == 100.0
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not sqlite")
    assert any("moved it to" in r.getMessage() for r in caplog.records)


def test_killed_holder_reservation_is_reclaimed(tmp_path, caplog) -> None:
    ready = tmp_path / "ready"
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(
        target=workers.hold_reservation, args=(str(tmp_path), 5000.0, 8000.0, str(ready))
    )
    holder.start()
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    ledger = _ledger(tmp_path)
    assert [(r["pid"], r["mb"]) for r in ledger.snapshot()] == [(holder.pid, 5000.0)]
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    caplog.set_level(logging.WARNING, logger="memwise_assets.memory.ledger")
    with ledger.reserve(5000, timeout_s=2, label="next"):
        assert [r["label"] for r in ledger.snapshot()] == ["next"]
    assert any(
        "reclaimed reservation" in r.getMessage() and str(holder.pid) in r.getMessage()
        for r in caplog.records
    )
    assert [e["event"] for e in ledger.history()] == ["admit", "reclaim", "admit", "release"]


@pytest.mark.slow
def test_six_processes_of_3_gb_never_exceed_an_8_gb_pool(tmp_path) -> None:
    ctx = multiprocessing.get_context("spawn")
    gate = tmp_path / "gate"
    gate.mkdir()
    ledger_dir = tmp_path / "ledger"
    jobs = [(str(ledger_dir), 3000.0, 8000.0, 0.25, f"job-{i}", str(gate)) for i in range(6)]
    with ProcessPoolExecutor(max_workers=6, mp_context=ctx) as pool:
        results = pool.map(workers.reserve_and_work, *zip(*jobs, strict=True))
        # Let all six start before any reserves, so they really compete.
        deadline = time.monotonic() + 30
        while len(list(gate.glob("ready-*"))) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        (gate / "go").touch()
        spans = list(results)
    history = _ledger(ledger_dir).history()
    t0 = history[0]["ts"]
    for event in history:
        _log.info(
            "%+.3fs %-7s %-5s total %.0f MB",
            event["ts"] - t0,
            event["event"],
            event["label"],
            event["total_mb"],
        )
    assert [e["event"] for e in history].count("admit") == 6
    assert max(e["total_mb"] for e in history) == 6000.0  # two at once, never three
    assert all(e["total_mb"] <= e["pool_mb"] == 8000.0 for e in history)
    assert history[-1]["total_mb"] == 0.0
    # The processes' own clocks agree: never more than two holders overlap.
    for span in spans:
        overlapping = [s for s in spans if s["admitted"] <= span["admitted"] < s["released"]]
        assert len(overlapping) <= 2
    assert sum(1 for s in spans if s["waited_s"] > 0.1) >= 3


def test_stale_queue_entry_of_a_live_process_does_not_block_the_queue(tmp_path, caplog) -> None:
    ledger = _ledger(tmp_path)
    # A waiter whose thread vanished without cleaning up: live pid, no heartbeat for long.
    old = time.time() - 3600
    ledger._conn().execute(
        "INSERT INTO waiters (id, label, mb, pid, pstart, enqueued, heartbeat) "
        "VALUES ('ghost-token', 'ghost', 10, ?, NULL, ?, ?)",
        (os.getpid(), old, old),
    )
    caplog.set_level(logging.WARNING, logger="memwise_assets.memory.ledger")
    with ledger.reserve(100, timeout_s=1, label="real") as reservation:
        assert reservation.waited_s < 1
    assert ledger.waiting() == []
    assert any("dropped queue entry 'ghost'" in r.getMessage() for r in caplog.records)
