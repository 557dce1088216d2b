"""A 30-year `daily_bars` backfill killed with SIGKILL mid-write: per month, a file on disk if
and only if Dagster says materialized; earlier months intact; the killed run's months written
but unpublished; and (after `memwise doctor` mends the dead run) the next backfill completes
and sweeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import dagster as dg
import pytest

from memwise_assets.defs.prices.partitions import monthly_partitions
from memwise_assets_tests.e2e.helpers import REPO, run_cli, tool

TICKERS = [f"T{i:04d}" for i in range(300)]
CONFIG = json.dumps({"ops": {"daily_bars": {"config": {"tickers": TICKERS}}}})


def _materialize(partition_range: str) -> list[str]:
    return [
        tool("dagster"),
        *("asset", "materialize", "-m", "memwise_assets.definitions"),
        *("--select", "daily_bars", "--partition-range", partition_range),
        *("--config-json", CONFIG),
    ]


def _months(folder) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


@pytest.mark.e2e
def test_a_killed_backfill_keeps_every_month_it_wrote_and_the_next_one_completes(
    dagster_home,
) -> None:
    folder = dagster_home / "memwise" / "data" / "daily_bars"
    first = run_cli(_materialize("2024-07...2024-12"), dagster_home)
    assert first.returncode == 0, first.stderr[-3000:]
    before = _months(folder)
    assert len(before) == 6

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    proc = subprocess.Popen(
        _materialize("1995-01...2024-12"),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    try:
        # The kill lands once the backfill is writing months of its own (its temporaries):
        # never after a sleep.
        while not list(folder.glob(".2000-0*.parquet.*.tmp")):
            assert proc.poll() is None, "the backfill ended before it wrote its months"
            assert time.monotonic() < deadline, "no month written within 10 minutes"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    assert list(folder.glob(".*.tmp")), "killed in the middle: months written, not published"
    after = _months(folder)
    assert after == before, "every visible month is the one stored before, byte for byte"
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    done = instance.get_materialized_partitions(dg.AssetKey("daily_bars"))
    instance.dispose()
    for key in monthly_partitions.get_partition_keys():
        on_disk = (folder / f"{key}.parquet").exists()
        assert on_disk == (key in done), f"{key}: file on disk {on_disk}, Dagster {key in done}"

    # The killed run still holds its "prices" pool slot; `memwise doctor` (as every memwise
    # entry point and the recovery sensor do) marks it failed and frees the slot.
    mended = run_cli([tool("memwise"), "doctor"], dagster_home)
    assert mended.returncode == 0, mended.stdout[-2000:] + mended.stderr[-2000:]
    again = run_cli(_materialize("1995-01...2024-12"), dagster_home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(folder.glob("*.parquet"))) == 360
    assert not list(folder.glob(".*.tmp")), "the dead writer's temporaries were swept"
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    assert len(instance.get_materialized_partitions(dg.AssetKey("daily_bars"))) == 360
    instance.dispose()
