"""Writes that die: SIGKILL mid-Parquet-write and ENOSPC at the write call lose nothing stored."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import signal
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memwise_assets.defs.atomic_files import atomic_write_table
from memwise_assets_tests.builders.hostile import frame_of, write_big_table
from memwise_assets_tests.reliability.toy_jobs import steady

ROWS = 6_000_000  # ~100 MB of random numbers: compressing them takes long enough to be hit


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


@pytest.mark.parametrize("kill_after_bytes", [1, 4 << 20])
def test_sigkill_mid_write_keeps_the_previous_file(tmp_path: Path, kill_after_bytes: int) -> None:
    path = tmp_path / "out" / "asset.parquet"
    atomic_write_table(pa.Table.from_pandas(frame_of(100, 7.0)), path)
    before = _digest(path)
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("spawn").Process(
        target=write_big_table, args=(str(path), ROWS, str(ready))
    )
    child.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            partial = [p for p in _temporaries(path.parent) if p.stat().st_size >= kill_after_bytes]
            if partial:
                break
            assert child.is_alive(), "the writer finished before it could be killed"
            time.sleep(0.005)
        else:
            pytest.fail("the writer never started its temporary file")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(10)
    assert child.exitcode == -signal.SIGKILL
    # The killed writer's temporary is hidden from readers; the stored file is untouched.
    assert _digest(path) == before
    pd.testing.assert_frame_equal(pq.read_table(path).to_pandas(), frame_of(100, 7.0))
    assert len(_temporaries(path.parent)) == 1
    # The next writer of the same output sweeps what the dead one left.
    atomic_write_table(pa.Table.from_pandas(frame_of(5, 9.0)), path)
    assert _temporaries(path.parent) == []
    assert pq.read_table(path).to_pandas()["v"].tolist() == [9.0] * 5


def test_enospc_at_the_write_call_fails_the_step_and_keeps_the_output(
    memwise_resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = dg.materialize([steady], resources=memwise_resources)
    assert first.success
    io = memwise_resources["io_manager"]
    stored = io.root / "steady.parquet"
    before = _digest(stored)
    real_write = pq.write_table

    def full_disk(table: pa.Table, where, **kwargs) -> None:
        # Half the bytes make it to the temporary file, then the disk is full.
        real_write(table.slice(0, table.num_rows // 2), where, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full_disk)
    second = dg.materialize([steady], resources=memwise_resources, raise_on_error=False)
    assert not second.success
    failure = next(e for e in second.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    text = error.message + "".join(c.message for c in [error.cause] if c)
    assert "No space left on device" in text and "steady" in failure.message + text
    assert _digest(stored) == before
    assert _temporaries(stored.parent) == []
    # The failed step gave its reservation back.
    assert memwise_resources["memory"].ledger.snapshot() == []
