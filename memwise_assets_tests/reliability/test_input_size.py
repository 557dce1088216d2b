"""A source step's input size is the source's (CSV files on disk, rows expected otherwise),
so its estimate and reservation follow it; an overrun states one peak figure, in its stop
message and in the retry note alike."""

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.prices import CsvPriceSource, SamplePriceSource, trading_days
from memwise_assets.defs.budgets import BUDGETS, MB
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.resources import MemoryResource

_MB = 1024 * 1024


def _history_csv(path: Path, days: int) -> None:
    dates = pd.bdate_range("1990-01-01", periods=days)
    price = np.linspace(10, 20, days)
    frame = pd.DataFrame(
        {
            "Date": dates.strftime("%Y-%m-%d"),
            "Open": price,
            "High": price * 1.01,
            "Low": price * 0.99,
            "Close": price,
            "Adj Close": price,
            "Volume": np.arange(days) + 1000,
        }
    )
    frame.to_csv(path, index=False)


def test_csv_input_is_the_files_read_whole(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    _history_csv(folder / "AAA.csv", 9000)
    _history_csv(folder / "BBB.csv", 9000)
    _history_csv(folder / "UNUSED.csv", 9000)
    with open(folder / "BBB.csv", "rb") as src, gzip.open(folder / "CCC.csv.gz", "wb") as dst:
        dst.write(src.read())
    source = CsvPriceSource(folder)
    size = source.input_bytes(["AAA", "BBB", "CCC"], "2024-01-01", "2024-02-01")
    expected = 2 * (folder / "BBB.csv").stat().st_size + (folder / "AAA.csv").stat().st_size
    assert size == expected  # the .gz counts its uncompressed size; UNUSED is not read
    # Rows-expected sources: tickers x trading days x a stored row.
    days = len(trading_days(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")))
    assert SamplePriceSource().input_bytes(["A", "B"], "2024-01-01", "2024-02-01") == 2 * days * 64


def test_daily_bars_estimate_and_reservation_follow_the_csv_size(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker in ("AAA", "BBB"):
        _history_csv(folder / f"{ticker}.csv", 30_000)  # decades of rows, one month kept
    on_disk_mb = sum(p.stat().st_size for p in folder.iterdir()) / MB
    memory = MemoryResource(home_dir=str(tmp_path / "memwise"))
    io = ParquetIOManager(base_dir=str(tmp_path / "data"))
    result = dg.materialize(
        [daily_bars],
        resources={"memory": memory, "io_manager": io},
        partition_key="2024-01",
        run_config={
            "ops": {
                "daily_bars": {
                    "config": {
                        "source": "csv",
                        "csv_folder": str(folder),
                        "tickers": ["AAA", "BBB"],
                    }
                }
            }
        },
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("daily_bars")
    meta = materialization.metadata
    assert abs(meta["memwise/input_mb"].value - on_disk_mb) < 0.01 * on_disk_mb
    expected = BUDGETS["prices"].static_estimate(on_disk_mb)
    assert abs(meta["memwise/estimate_mb"].value - expected) < 0.05 * expected
    # The ledger reserved what the estimate said.
    admits = [h for h in memory.ledger.history() if h["event"] == "admit"]
    assert admits and abs(admits[-1]["mb"] - meta["memwise/estimate_mb"].value) < 1


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
def grower(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """Grows past a 50 MB budget on its first attempt; fits its raised budget on the retry."""
    with memory.step(context, budget="default", static_estimate_mb=40) as step:
        held = []
        # 40 MB chunks: above glibc's largest mmap threshold, so freed memory goes back
        # to the system and later tests of this process see their own growth.
        for i in range(3 if context.retry_number else 10):
            held.append(np.ones(40 * _MB // 8))
            step.mark(f"chunk-{i + 1}")
        yield step.output(pd.DataFrame({"n": [len(held)]}))


FIGURE = re.compile(r"\d+ MB used: peak [\d.]+ MB RSS above a [\d.]+ MB start")


def test_stop_message_and_retry_note_state_one_peak(tmp_path: Path) -> None:
    memory = MemoryResource(
        home_dir=str(tmp_path / "memwise"), limits_mb={"default": 50}, max_memory_retries=1
    )
    io = ParquetIOManager(base_dir=str(tmp_path / "data"))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize(
            [grower],
            resources={"memory": memory, "io_manager": io},
            instance=instance,
            raise_on_error=False,
        )
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    retry = next(e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")
    error = retry.event_specific_data.error
    stop_text = " ".join(
        e.message for e in [error, *([error.cause] if error and error.cause else [])] if e
    )
    notes = [m for m in messages if "passed its 50 MB budget" in m]
    raised = [m for m in messages if "after MemoryLimitExceeded" in m]
    in_stop = FIGURE.findall(stop_text)
    assert in_stop, stop_text
    assert notes and FIGURE.findall(notes[0]) == in_stop[-1:], (notes, stop_text)
    assert raised and FIGURE.findall(raised[0]) == in_stop[-1:], (raised, stop_text)
