"""Block versions: one complete version visible at a time, failures and dead writers swept;
block plans follow the budget; inputs outside the stored range are not missing work."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.store import VersionWriter, current_version, versions_folder
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.memory.blocks import plan_blocks


def _table(symbols: list[str], value: float) -> pa.Table:
    frame = pd.DataFrame(
        {"symbol": pd.Categorical(symbols), "date": pd.Timestamp("2024-01-02"), "x": value}
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write(link: Path, value: float, blocks: int = 3) -> Path:
    writer = VersionWriter(link)
    for i in range(blocks):
        writer.write(_table([f"S{i}{j}" for j in range(i + 1)], value))
    return writer.commit()


def test_a_reader_sees_exactly_one_complete_version(tmp_path: Path) -> None:
    link = tmp_path / "features"
    _write(link, 1.0)
    first = current_version(link)
    assert pd.read_parquet(link)["x"].eq(1.0).all() and len(pd.read_parquet(link)) == 6
    _write(link, 2.0, blocks=2)
    assert set(pd.read_parquet(link)["x"]) == {2.0} and len(pd.read_parquet(link)) == 3
    assert sorted(p.name for p in link.glob("*.parquet")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    # The version it replaced stays for readers inside it; the one before that is swept.
    assert first.exists()
    _write(link, 3.0)
    assert not first.exists()
    assert len(list(versions_folder(link).iterdir())) == 2


def test_a_failed_write_leaves_the_current_version_and_no_folder(tmp_path: Path) -> None:
    link = tmp_path / "labels"
    _write(link, 1.0)
    before = current_version(link)
    writer = VersionWriter(link)
    writer.write(_table(["A"], 9.0))
    writer.discard()
    assert current_version(link) == before
    assert set(pd.read_parquet(link)["x"]) == {1.0}
    assert len(list(versions_folder(link).iterdir())) == 1


def test_a_dead_writers_version_is_swept_by_the_next_writer(tmp_path: Path) -> None:
    link = tmp_path / "labels"
    _write(link, 1.0)
    dead = versions_folder(link) / "v-1-999999999-abcdef"  # no such pid
    dead.mkdir()
    (dead / "part-00000.parquet").write_bytes(b"half")
    _write(link, 2.0)
    assert not dead.exists()
    assert set(pd.read_parquet(link)["x"]) == {2.0}


def test_blocks_follow_the_budget_and_never_split_a_symbol() -> None:
    rows = [7_500] * 200
    big = plan_blocks(rows, budget_mb=2048, bytes_per_row=320)
    small = plan_blocks(rows, budget_mb=64, bytes_per_row=320)
    tiny = plan_blocks(rows, budget_mb=1, bytes_per_row=320)
    assert big.blocks == 1 and small.blocks > big.blocks and tiny.blocks == 200
    for plan in (big, small, tiny):
        assert plan.bounds[0][0] == 0 and plan.bounds[-1][1] == 200
        assert all(a[1] == b[0] for a, b in zip(plan.bounds[:-1], plan.bounds[1:], strict=True))
        assert plan.largest_rows <= max(plan.block_rows, 7_500)
    assert "rows per block" in small.reason


def test_stored_table_sizes_come_from_footers_not_a_read(tmp_path: Path) -> None:
    link = tmp_path / "t"
    _write(link, 1.0)
    stored = StoredTable("t", sorted(link.glob("*.parquet")), ["symbol", "x"])
    assert stored.rows == 6 and stored.file_mb > 0
    assert stored.memory_mb == pytest.approx(6 * (4 + 8) / 2**20)
    assert list(stored.symbol_rows.index) == sorted(
        f"S{i}{j}" for i in range(3) for j in range(i + 1)
    )
    assert list(stored.read("S10", "S11")["symbol"].astype(str)) == ["S10", "S11"]


def test_partitions_outside_the_stored_range_are_not_reported_missing(tmp_path: Path) -> None:
    io = ParquetIOManager(base_dir=str(tmp_path))
    folder = tmp_path / "daily_bars"
    folder.mkdir()
    for month in ("2024-03", "2024-04", "2024-06"):
        pd.DataFrame({"x": [1.0]}).to_parquet(folder / f"{month}.parquet")
    keys = [f"2024-{m:02d}" for m in range(1, 13)]
    warnings: list[str] = []

    class Log:
        def warning(self, message: str) -> None:
            warnings.append(message)

    context = dg.build_input_context(
        asset_key=dg.AssetKey("daily_bars"),
        partition_key=None,
        asset_partitions_def=dg.MonthlyPartitionsDefinition(
            start_date="2024-01", end_date="2025-01", fmt="%Y-%m"
        ),
        asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]),
    )
    object.__setattr__(context, "_log", None)
    files = _stored_files(io, context, Log())
    assert [p.stem for p in files] == ["2024-03", "2024-04", "2024-06"]
    assert len(warnings) == 1 and "1 partitions between 2024-03 and 2024-06" in warnings[0]


def _stored_files(io: ParquetIOManager, context, log) -> list[Path]:
    class Proxy:
        def __getattr__(self, name):
            return log if name == "log" else getattr(context, name)

    return io._stored_files(Proxy())  # type: ignore[arg-type]


def test_killed_writer_pids_are_parsed_from_version_names(tmp_path: Path) -> None:
    link = tmp_path / "x"
    writer = VersionWriter(link)
    assert writer.folder.name.split("-")[2] == str(os.getpid())
    writer.discard()
