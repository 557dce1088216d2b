"""A 30-year `daily_bars` backfill killed with SIGKILL mid-write: earlier months intact, the
partial month invisible, the statuses true, and (after `memwise doctor` mends the dead run)
the next backfill completes and sweeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import dagster as dg
import pyarrow.parquet as pq
import pytest

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
        # The kill lands once the backfill has stored months of its own: never after a sleep.
        while not (folder / "1995-01.parquet").exists():
            assert proc.poll() is None, "the backfill ended before its first month was stored"
            assert time.monotonic() < deadline, "no month stored within 10 minutes"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    stored = sorted(folder.glob("*.parquet"))
    assert 6 < len(stored) < 360 + 6, "killed in the middle: some months new, others not yet"
    for path in stored:  # every visible file is whole (readable, its own month only)
        dates = pq.read_table(path, columns=["date"]).column(0).to_pandas()
        assert len(dates) and (dates.dt.strftime("%Y-%m") == path.stem).all(), path.name
    after = _months(folder)
    assert {m: after[m] for m in before} == before, "the months stored earlier are intact"
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    done = instance.get_materialized_partitions(dg.AssetKey("daily_bars"))
    assert done == set(before), "the killed run reported no partition it may not have finished"
    instance.dispose()

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
