"""The ledger against a locked database, rows no ledger writes and a clock running ahead:
bounded waits that name the file, invalid rows dropped, no clock holds others for long."""

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import AdmissionTimeout, MemoryLedger
from memwise_assets.memory.ledger_file import REJOIN_S

POOL = 1000.0
_HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _ledger(folder: Path) -> MemoryLedger:
    return MemoryLedger(folder, pool_mb=POOL, available_fn=lambda: 1e9, total_fn=lambda: 1e9)


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[MemoryLedger]:
    """A ledger whose database another process holds in an EXCLUSIVE transaction for 90 s."""
    ledger = _ledger(tmp_path / "ledger")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(ledger.db_path), "90"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield ledger
    finally:
        holder.kill()
        holder.wait()


def test_a_locked_ledger_ends_in_the_admission_timeout_naming_its_file(locked) -> None:
    began = time.monotonic()
    with pytest.raises(AdmissionTimeout) as err:
        locked.reserve(10, timeout_s=3, label="step")
    took = time.monotonic() - began
    assert 2.5 < took < 15, took  # the 3 s asked for, not SQLite's 30 s busy timeout
    assert str(locked.db_path) in str(err.value) and "locked" in str(err.value)


@dg.asset
def admitted(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """A step that only needs its admission."""
    with memory.step(context, budget="default", static_estimate_mb=10):
        yield dg.Output(1)


def test_a_step_on_a_locked_ledger_fails_in_its_admission_timeout(locked, tmp_path: Path) -> None:
    memory = MemoryResource(
        home_dir=str(tmp_path / "home"),
        ledger_dir=str(locked.dir),
        admission_timeout_s=3,
        max_admission_retries=0,
        pool_mb=POOL,
    )
    began = time.monotonic()
    result = dg.materialize([admitted], resources={"memory": memory}, raise_on_error=False)
    assert not result.success
    assert time.monotonic() - began < 60
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    text, cause = error.message, error.cause
    while cause is not None:
        text, cause = text + cause.message, cause.cause
    assert str(locked.db_path) in text and "locked" in text


def _hostile_rows(ledger: MemoryLedger, rows: list[tuple[str, object]]) -> None:
    """Rows written by something that is no ledger (constraints of new files bypassed)."""
    conn = sqlite3.connect(ledger.db_path, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    for label, mb in rows:
        conn.execute(
            "INSERT INTO reservations (id, label, mb, pid, pstart, since) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (label, label, mb, os.getpid(), None, time.time()),
        )
    conn.close()


def test_rows_with_impossible_sizes_are_dropped_not_summed(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "ledger")
    # Held by this (live) process, so no dead-holder reclaim would remove them.
    _hostile_rows(ledger, [("minus", -5000.0), ("inf", float("inf")), ("text", "lots")])
    held = []
    try:
        held.append(ledger.reserve(900, timeout_s=1, label="first"))
        with pytest.raises(AdmissionTimeout, match="already reserved"):
            held.append(ledger.reserve(900, timeout_s=0.5, label="second"))
        assert ledger.reserved_mb() == pytest.approx(900)
        assert sorted(r["label"] for r in ledger.snapshot()) == ["first"]
    finally:
        for reservation in held:
            reservation.release()
    # A fresh file refuses such rows outright.
    conn = sqlite3.connect(ledger.db_path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO reservations (id, label, mb, pid, since) VALUES ('x', 'x', -1, 1, 0)"
        )
    conn.close()


def test_a_clock_running_ahead_cannot_hold_admissions_for_long(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "ledger")
    conn = sqlite3.connect(ledger.db_path, isolation_level=None)
    # What a process whose clock ran an hour ahead writes when it rebuilds the ledger.
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('rejoin_until', ?)",
        (time.time() + 3600 + REJOIN_S,),
    )
    # And a queue entry of a live process heartbeating from an hour ahead, thread gone.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        future = time.time() + 3600
        conn.execute(
            "INSERT INTO waiters (id, label, mb, pid, pstart, enqueued, heartbeat) "
            "VALUES ('ahead', 'ahead', 10, ?, NULL, ?, ?)",
            (sleeper.pid, future, future),
        )
        began = time.monotonic()
        with ledger.reserve(10, timeout_s=4 * REJOIN_S, label="now") as reservation:
            waited = time.monotonic() - began
        assert reservation.mb == 10 and waited < 2 * REJOIN_S + 2
        assert not ledger.waiting()
    finally:
        sleeper.kill()
        sleeper.wait()
        conn.close()


def test_heartbeat_thread_and_release_on_a_briefly_locked_ledger(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "ledger")
    script = textwrap.dedent(_HOLD)
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(ledger.db_path), "1.5"], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    # Waits out a short lock (well inside its timeout) and is admitted.
    with ledger.reserve(10, timeout_s=30, label="patient") as reservation:
        assert reservation.waited_s >= 0.5
    holder.wait()


def test_a_release_on_a_locked_ledger_never_fails_and_is_given_back(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path / "ledger")
    reservation = ledger.reserve(400, timeout_s=5, label="done")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(ledger.db_path), "8"], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    began = time.monotonic()
    reservation.release()  # the step's work is done: the lock must not fail it
    assert time.monotonic() - began < 15
    holder.wait()
    deadline = time.monotonic() + 30
    while ledger.reserved_mb() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ledger.reserved_mb() == 0
    assert [h["event"] for h in ledger.history()][-1] == "release"
