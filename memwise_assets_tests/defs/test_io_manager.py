"""The Parquet IO manager: dtypes, partitions, column subsets, metadata, refusals, atomicity."""

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memwise_assets.defs.atomic_files import atomic_write_table
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.home_and_size import frame_mb
from memwise_assets.defs.io_manager import PARTITION_COLUMN_KEY
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory.run_metrics import METRICS_FILE
from memwise_assets_tests.builders.processes import run_fresh
from memwise_assets_tests.builders.stored_assets import stored_asset

days = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")


def _frame(n: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Categorical(["AAA", "BBB"] * (n // 2)),
            "label": np.tile(np.array([-1, 0, 1], dtype=np.int8), n // 3),
            "weight": np.linspace(0, 1, n, dtype=np.float32),
            "close": np.linspace(10, 20, n),
        }
    )


@dg.asset
def toy(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", input_mb=1.0, static_estimate_mb=64) as step:
        (step.cache_dir / "scratch.bin").write_bytes(b"x" * 4096)
        ballast = np.ones(20_000_000)  # 160 MB the peak must show
        step.mark("allocated")
        del ballast
        yield step.output(_frame())


@dg.asset(ins={"toy": dg.AssetIn(metadata={"columns": ["symbol", "weight"]})})
def toy_subset(
    context: dg.AssetExecutionContext, memory: MemoryResource, toy: pd.DataFrame
) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        yield step.output(toy)


def test_roundtrip_keeps_dtypes_and_reads_only_named_columns(memwise_resources) -> None:
    result = dg.materialize([toy, toy_subset], resources=memwise_resources)
    stored = result.output_for_node("toy_subset").value  # the step's output: payload and step
    assert list(stored.columns) == ["symbol", "weight"]
    assert isinstance(stored["symbol"].dtype, pd.CategoricalDtype)
    assert stored["weight"].dtype == np.float32
    io = memwise_resources["io_manager"]
    full = pq.read_table(io.root / "toy.parquet").to_pandas()
    assert full["label"].dtype == np.int8
    pd.testing.assert_frame_equal(full, _frame())


def test_metadata_cache_purge_and_run_metrics(memwise_resources) -> None:
    result = dg.materialize([toy], resources=memwise_resources)
    meta = result.asset_materializations_for_node("toy")[0].metadata
    values = {k: getattr(v, "value", v) for k, v in meta.items()}
    figures = StepFigures.from_metadata(meta)
    assert figures is not None
    assert values["dagster/row_count"] == 12
    schema = values["dagster/column_schema"]
    assert [c.name for c in schema.columns] == ["symbol", "label", "weight", "close"]
    assert figures.peak_rss_mb > figures.rss_increase_mb
    assert figures.limit_mb == 1024.0
    assert figures.within_limit is True
    assert 0 < figures.peak_usage_percent < 100
    assert figures.estimate_mb == 64.0
    assert figures.estimator == "static"
    assert figures.input_mb == 1.0
    stored = memwise_resources["io_manager"].root / "toy.parquet"
    assert values["memwise/file_mb"] == round(stored.stat().st_size / 2**20, 6)
    assert values["memwise/frame_mb"] == round(frame_mb(_frame()), 6)
    assert figures.cache_files_removed == 1
    assert figures.cache_mb_freed == pytest.approx(4096 / 2**20, rel=1e-3)
    stages = [s["stage"] for s in figures.samples]
    assert "allocated" in stages and "store-complete" in stages
    memory = memwise_resources["memory"]
    run_cache = memory.cache_root / result.run_id
    assert not any(run_cache.rglob("*")), "the step's cache must be empty after the write"
    metrics = json.loads(
        (memwise_resources["io_manager"].root / "_runs" / result.run_id / METRICS_FILE).read_text()
    )
    assert metrics["execution"]["steps"] == 1 and metrics["execution"]["rows"] == 12
    assert metrics["steps"]["toy"]["peak_memory_mb"] == figures.peak_rss_mb
    assert metrics["cleanup"]["files_removed"] == 1
    # Nothing of the run stays reserved on the ledger.
    assert memory.ledger.snapshot() == []


_FRESH_TOY = """
import json, sys
import dagster as dg
from memwise_assets_tests.defs.test_io_manager import toy
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource

home = sys.argv[1]
result = dg.materialize([toy], resources={
    "memory": MemoryResource(home_dir=home),
    "io_manager": ParquetIOManager(base_dir=home + "/data"),
})
meta = result.asset_materializations_for_node("toy")[0].metadata
figures = StepFigures.from_metadata(meta)
print(json.dumps({"increase": figures.rss_increase_mb, "peak": figures.peak_rss_mb}))
"""


def test_rss_increase_shows_the_ballast_in_a_fresh_process(tmp_path: Path) -> None:
    """The 160 MB ballast shows in the step's RSS increase.

    Run in a fresh process: the increase is measured against the process's memory high-water
    mark, and earlier tests of the same process (the memory toolkit's) leave heap and peak state
    behind that can hide an allocation of this size.
    """
    values = run_fresh(_FRESH_TOY, str(tmp_path / "memwise"))
    assert values["increase"] >= 140  # the 160 MB ballast, freed before return
    assert values["peak"] > values["increase"]


@dg.asset(
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={PARTITION_COLUMN_KEY: "date"},
)
def daily_toy(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    window = context.partition_time_window
    dates = pd.date_range(window.start, window.end, freq="D", inclusive="left").tz_localize(None)
    dates = dates[dates.dayofweek < 5]  # weekend partitions stay empty, still stored
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        yield step.output(
            pd.DataFrame({"date": np.repeat(dates, 2), "value": np.arange(2 * len(dates))})
        )


@dg.asset(ins={"daily_toy": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
def daily_sum(
    context: dg.AssetExecutionContext, memory: MemoryResource, daily_toy: pd.DataFrame
) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        yield step.output(daily_toy)


def test_single_run_range_is_stored_one_file_per_partition(memwise_resources) -> None:
    tags = {
        "dagster/asset_partition_range_start": "2024-01-01",
        "dagster/asset_partition_range_end": "2024-01-10",
    }
    result = dg.materialize([daily_toy], resources=memwise_resources, tags=tags)
    folder = memwise_resources["io_manager"].root / "daily_toy"
    files = sorted(p.name for p in folder.glob("*.parquet"))
    assert files == [f"2024-01-{d:02d}.parquet" for d in range(1, 11)]
    jan2 = pq.read_table(folder / "2024-01-02.parquet").to_pandas()
    assert (jan2["date"] == pd.Timestamp("2024-01-02")).all() and len(jan2) == 2
    assert pq.read_table(folder / "2024-01-06.parquet").num_rows == 0  # a Saturday
    assert len(result.asset_materializations_for_node("daily_toy")) == 10
    loaded = (
        dg.materialize([daily_toy, daily_sum], selection=[daily_sum], resources=memwise_resources)
        .output_for_node("daily_sum")
        .value
    )
    assert len(loaded) == 2 * 8 and loaded["date"].is_monotonic_increasing


def _notes() -> pd.DataFrame:
    return _frame().assign(note=pd.Series(["x" * 40, "yz"] * 6, dtype=object))


notes = stored_asset("notes")(_notes)


def test_frame_mb_counts_object_columns_deep_as_frame_mb_does(memwise_resources) -> None:
    result = dg.materialize([notes], resources=memwise_resources)
    meta = result.asset_materializations_for_node("notes")[0].metadata
    frame = _notes()
    assert frame["note"].dtype == object
    assert meta["memwise/frame_mb"].value == round(frame_mb(frame), 6)


not_a_frame = stored_asset("not_a_frame")(lambda: {"a": 1})
toy_mixed = stored_asset("toy")(lambda: pd.DataFrame({"x": [1, "two", 3.0]}))


def test_refuses_what_it_cannot_store_and_keeps_the_previous_output(memwise_resources) -> None:
    dg.materialize([toy], resources=memwise_resources)
    path = memwise_resources["io_manager"].root / "toy.parquet"
    before = path.read_bytes()
    with pytest.raises(TypeError, match="not_a_frame.*pandas DataFrames only.*dict"):
        dg.materialize([not_a_frame], resources=memwise_resources)
    with pytest.raises(ValueError, match=r"toy: column 'x' mixes types"):
        dg.materialize([toy_mixed], resources=memwise_resources)
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".toy.parquet.*"))


def _write_forever(path: str, started: multiprocessing.Event) -> None:
    big = pa.table({"x": np.random.default_rng(0).random(40_000_000)})
    started.set()
    while True:
        atomic_write_table(big, Path(path))


def test_kill_mid_write_leaves_previous_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    original = pa.table({"x": np.arange(1000)})
    atomic_write_table(original, path)
    before = path.read_bytes()
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    child = ctx.Process(target=_write_forever, args=(str(path), started))
    child.start()
    assert started.wait(60)
    deadline = time.time() + 30
    # Kill once the temporary file exists and is growing: genuinely mid-write.
    while time.time() < deadline and not list(tmp_path.glob(".out.parquet.*.tmp")):
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    if path.read_bytes() != before:
        # The child completed a whole write before the kill: that file must be whole too.
        assert pq.read_table(path).num_rows == 40_000_000
    else:
        assert pq.read_table(path).equals(original)
    # The next writer sweeps the dead writer's temporary file.
    atomic_write_table(original, path)
    assert not list(tmp_path.glob(".out.parquet.*.tmp"))
    assert pq.read_table(path).equals(original)
