"""Atomic Parquet batches: background writes, failures that keep every file, stale sweeps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memwise_assets.defs.atomic_files import AtomicBatch, atomic_write_table, write_parquet


def _table(i: int) -> pa.Table:
    frame = pd.DataFrame(
        {"symbol": pd.Categorical(["A", "B"] * 50), "close": [float(i)] * 100, "n": [i] * 100}
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def test_submitted_writes_land_whole_with_their_sizes(tmp_path: Path) -> None:
    paths = [tmp_path / "data" / f"2024-{m:02d}.parquet" for m in range(1, 13)]
    with AtomicBatch() as batch:
        written = [batch.submit(_table(i), path) for i, path in enumerate(paths)]
        sizes = [future.result() for future in written]
        assert not any(path.exists() for path in paths)  # renamed only on leaving the block
    assert sizes == [path.stat().st_size for path in paths]
    for i, path in enumerate(paths):
        pd.testing.assert_frame_equal(pq.read_table(path).to_pandas(), _table(i).to_pandas())
    assert not _temporaries(paths[0].parent)


def test_a_failed_background_write_keeps_every_previous_file(tmp_path: Path) -> None:
    paths = [tmp_path / f"2024-{m:02d}.parquet" for m in range(1, 6)]
    for path in paths:
        atomic_write_table(_table(0), path)
    too_long = tmp_path / ("x" * 240 + ".parquet")  # its temporary's name passes 255 bytes
    with pytest.raises(OSError, match="cannot write .*xxxx"):
        with AtomicBatch() as batch:
            for i, path in enumerate(paths):
                batch.submit(_table(i + 1), path)
            batch.submit(_table(9), too_long)
    assert [pq.read_table(p).column("n")[0].as_py() for p in paths] == [0] * 5
    assert not too_long.exists() and not _temporaries(tmp_path)


def test_an_error_in_the_block_discards_writes_still_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "2024-01.parquet"
    atomic_write_table(_table(0), path)
    with pytest.raises(RuntimeError, match="source died"):
        with AtomicBatch() as batch:
            for i in range(20):
                batch.submit(_table(i + 1), tmp_path / f"{i:02d}-new.parquet")
            batch.submit(_table(1), path)
            raise RuntimeError("source died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-01.parquet"]
    assert pq.read_table(path).column("n")[0].as_py() == 0


def test_dead_writers_temporaries_are_swept_from_the_folder(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".2023-12.parquet.{dead.stdout.strip()}.0123abcd.tmp"
    live = tmp_path / f".2023-11.parquet.{os.getpid()}.89abcdef.tmp"
    other = tmp_path / ".report.html.1.tmp"  # not this writer's layout: never touched
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    with AtomicBatch() as batch:
        batch.add(_table(1), tmp_path / "2024-01.parquet")
    assert not stale.exists() and live.exists() and other.exists()


def test_dictionary_pages_only_for_text_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet(_table(1).append_column("note", pa.array(["a"] * 100)), path)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(4)}
    assert "RLE_DICTIONARY" in encodings["symbol"] and "RLE_DICTIONARY" in encodings["note"]
    assert "RLE_DICTIONARY" not in encodings["close"] + encodings["n"]
    assert meta.column(1).compression == "ZSTD"
