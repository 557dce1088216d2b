"""The ledger's own recovery keeps live reservations: deleted or corrupted under a holder."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from memwise_assets.memory import AdmissionTimeout, MemoryLedger
from memwise_assets.memory.ledger_file import DB_NAME, REJOIN_S
from memwise_assets_tests.builders import workers
from memwise_assets_tests.builders.processes import wait_for_file

POOL = 1000.0


def _delete(ledger_dir: Path) -> None:
    for path in ledger_dir.glob(f"{DB_NAME}*"):
        path.unlink()


def _corrupt(ledger_dir: Path) -> None:
    for path in ledger_dir.glob(f"{DB_NAME}-*"):
        path.unlink()
    (ledger_dir / DB_NAME).write_bytes(b"this is not a database" * 500)


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_delete, _corrupt], ids=["deleted", "corrupted"])
def test_live_holder_survives_a_rebuilt_ledger(tmp_path: Path, damage) -> None:
    ledger_dir, control = tmp_path / "ledger", tmp_path / "control"
    control.mkdir()
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(
        target=workers.hold_until_told, args=(str(ledger_dir), POOL / 2, POOL, str(control))
    )
    holder.start()
    try:
        wait_for_file(control / "ready", 30.0)
        damage(ledger_dir)
        newcomer = MemoryLedger(ledger_dir, pool_mb=POOL, available_fn=lambda: 1e12)
        # 60 % on top of the holder's 50 % would over-admit the pool: it must wait.
        with pytest.raises(AdmissionTimeout):
            newcomer.reserve(0.6 * POOL, timeout_s=REJOIN_S + 2, label="too-big")
        assert [r["label"] for r in newcomer.snapshot()] == ["first-holder"]
        with newcomer.reserve(0.4 * POOL, timeout_s=10, label="newcomer") as mine:
            assert newcomer.reserved_mb() == pytest.approx(0.9 * POOL)
            (control / "release").touch()
            wait_for_file(control / "released", 30.0)
            # The holder's release removed its own row only.
            assert [r["id"] for r in newcomer.snapshot()] == [mine.id]
        assert newcomer.reserved_mb() == 0
        totals = [event["total_mb"] for event in newcomer.history()]
        assert max(totals) <= POOL
    finally:
        (control / "release").touch()
        holder.join(timeout=30)
        if holder.is_alive():
            holder.kill()


def test_reservation_ids_are_never_reused_across_ledgers(tmp_path: Path) -> None:
    first = MemoryLedger(tmp_path, pool_mb=POOL, available_fn=lambda: 1e12)
    held = first.reserve(10, label="a")
    _delete(tmp_path)
    second = MemoryLedger(tmp_path, pool_mb=POOL, available_fn=lambda: 1e12)
    other = second.reserve(10, timeout_s=REJOIN_S + 5, label="b")
    assert held.id != other.id
    held.release()
    assert [r["label"] for r in second.snapshot()] == ["b"]
    other.release()


def test_a_full_ledger_database_names_its_file(tmp_path: Path) -> None:
    import sqlite3

    ledger = MemoryLedger(tmp_path, pool_mb=POOL, available_fn=lambda: 1e12)
    conn = ledger._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # this connection may not grow the file
    with pytest.raises(sqlite3.OperationalError, match="full") as caught:
        for i in range(10_000):
            ledger.reserve(1, label=f"filler-{i:05d}-" + "x" * 200).release()
    assert str(ledger.db_path) in str(caught.value)
