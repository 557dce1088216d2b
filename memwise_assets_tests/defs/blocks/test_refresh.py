"""The after-close refresh by the tail path gives the full rebuild's answers, and falls back to
a full rebuild when the config, an earlier month or the universe changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.atomic_files import write_parquet
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.labels.assets import weighted_labels
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.refresh import REFRESH_KEY
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import MANIFEST_NAME, VersionWriter, current_version
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.weekly.assets import daily_with_weekly_features, weekly_features

TICKERS = [f"T{i:03d}" for i in range(70)]
DOWNSTREAM = [weekly_features, daily_with_weekly_features, weighted_labels]
KEYS = {"weekly_features": ["symbol", "week_end"]}
BUILT_TO = pd.Timestamp("2024-12-13")  # the stored December ends here before the refresh
# Near zero, the whole-history computation itself moves by ~1e-16 when days are appended:
# volume_z_13w centres its rolling sums on the whole segment's mean, which new rows shift.
ATOL = 1e-14
# The weekly history's end: three weeks before the split (12-01).
HISTORY_END = pd.Timestamp("2024-11-10")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """70 symbols x 15 years with late listings, delistings, holes and single missing days."""
    source = SamplePriceSource(seed=11, listing_rate=0.3, delisting_rate=0.3)
    frame = source.fetch(TICKERS, pd.Timestamp("2010-01-01"), pd.Timestamp("2025-01-01")).frame
    rng = np.random.default_rng(3)
    drop = np.zeros(len(frame), dtype=bool)
    symbols = frame["symbol"].to_numpy()
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    for lo in rng.choice(starts, 15, replace=False):
        at = lo + rng.integers(200, 2500)
        drop[at : at + rng.integers(3, 30)] = True
    drop[rng.choice(len(frame), 300, replace=False)] = True
    # One hole across the stored December's end, so the refresh also closes a hole.
    late = (frame["symbol"] == "T005") & frame["date"].between("2024-12-09", "2024-12-17")
    return frame[~drop & ~late.to_numpy()].reset_index(drop=True)


def _store_months(frame: pd.DataFrame, folder: Path, months: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = frame["date"].dt.strftime("%Y-%m")
    for month, rows in frame.groupby(labels, sort=True).indices.items():
        if months is None or month in months:
            part = frame.iloc[rows].sort_values(["symbol", "date"])
            table = pa.Table.from_pandas(part, preserve_index=False)
            write_parquet(table, folder / f"{month}.parquet", row_group_rows=4096)


def _materialize(root: Path, config: dict | None = None) -> dict[str, str]:
    resources = {
        "memory": MemoryResource(home_dir=str(root / "home")),
        "io_manager": ParquetIOManager(base_dir=str(root / "data")),
    }
    result = dg.materialize(
        [daily_bars, *DOWNSTREAM],
        selection=DOWNSTREAM,
        resources=resources,
        run_config={"ops": config or {}},
    )
    assert result.success
    return {
        a.asset_key.to_user_string(): str(a.metadata[REFRESH_KEY].value)
        for a in (
            m.event_specific_data.materialization
            for m in result.all_events
            if m.event_type_value == "ASSET_MATERIALIZATION"
        )
    }


def _stored(root: Path, asset: str) -> pd.DataFrame:
    files = sorted((root / "data" / asset).glob("*.parquet"))
    frame = StoredTable(asset, files).read()  # sorted by symbol, then date
    frame["symbol"] = frame["symbol"].astype(str)
    return frame


def _same(got: pd.DataFrame, want: pd.DataFrame, name: str, atol: float = ATOL) -> None:
    assert list(got.columns) == list(want.columns), name
    assert len(got) == len(want), name
    for column in got.columns:
        a, b = got[column].to_numpy(), want[column].to_numpy()
        if a.dtype.kind == "f":
            assert a.dtype == b.dtype, column
            np.testing.assert_allclose(
                a, b, rtol=1e-12, atol=atol, equal_nan=True, err_msg=f"{name}.{column}"
            )
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{column}")


def _refreshed_december(bars: pd.DataFrame) -> pd.DataFrame:
    """December with its stored days' prices changed and the days after them added."""
    december = bars[bars["date"] >= "2024-12-01"].copy()
    changed = december["date"] <= BUILT_TO
    for column in ("open", "high", "low", "close", "adj_close"):
        december.loc[changed, column] *= 1.003
    return december


@pytest.fixture(scope="module")
def built(bars, tmp_path_factory) -> Path:
    """A home built in full with December stored up to BUILT_TO."""
    root = tmp_path_factory.mktemp("refresh")
    _store_months(bars[bars["date"] <= BUILT_TO], root / "data" / "daily_bars")
    first = _materialize(root)
    assert all(text.startswith("full") for text in first.values()), first
    return root


def test_the_tail_refresh_gives_the_full_rebuild_answers(bars, built, tmp_path) -> None:
    home = tmp_path / "tail"
    shutil.copytree(built, home, symlinks=True)
    before = {
        asset: current_version(home / "data" / asset)
        for asset in ("weekly_features", "daily_with_weekly_features")
    }
    _store_months(_refreshed_december(bars), home / "data" / "daily_bars")
    paths = _materialize(home)
    assert paths["weekly_features"] == "tail: from 2024-12-01 (2024-12 changed)", paths
    assert paths["daily_with_weekly_features"].startswith("tail"), paths
    assert paths["weighted_labels"].startswith("full"), paths
    for asset, old in before.items():
        new = current_version(home / "data" / asset)
        assert new != old and (new / MANIFEST_NAME).is_file()
        # History files are the previous version's, linked, not copied.
        history = new / "part-00000.parquet"
        assert history.stat().st_nlink == 2 and history.stat().st_ino == (
            (old / "part-00000.parquet").stat().st_ino
        )

    full = tmp_path / "full"
    shutil.copytree(home / "data" / "daily_bars", full / "data" / "daily_bars")
    assert all(t.startswith("full") for t in _materialize(full).values())
    for asset in ("weekly_features", "daily_with_weekly_features", "weighted_labels"):
        got, want = _stored(home, asset), _stored(full, asset)
        _same(got, want, asset)
        # The recomputed rows match to 1e-12 relative, with no absolute floor.
        time = KEYS.get(asset, ["symbol", "date"])[1]
        _same(*(f[f[time] >= HISTORY_END].reset_index(drop=True) for f in (got, want)), asset, 0)
    assert _stored(home, "daily_with_weekly_features")["date"].max() == pd.Timestamp("2024-12-31")

    # Nothing changed since: every file is linked again.
    again = _materialize(home)
    assert again["weekly_features"] == "reuse: daily_bars unchanged", again
    _same(_stored(home, "weekly_features"), _stored(full, "weekly_features"), "weekly")


@pytest.mark.parametrize(
    "change, expected",
    [
        ("config", "full: config or layout changed"),
        ("earlier month", "full: 2024-10 changed, before the split 2024-12-01"),
        ("universe", "full: universe changed: 1 new symbol(s), e.g. NEW1"),
    ],
)
def test_other_changes_rebuild_in_full(bars, built, tmp_path, change, expected) -> None:
    home = tmp_path / "home"
    shutil.copytree(built, home, symlinks=True)
    folder = home / "data" / "daily_bars"
    _store_months(_refreshed_december(bars), folder)
    config = None
    if change == "config":
        config = {"weekly_features": {"config": {"price_field": "close"}}}
    elif change == "earlier month":
        _store_months(bars, folder, months=["2024-10"])
    else:
        december = _refreshed_december(bars)
        extra = december[december["symbol"] == december["symbol"].iloc[0]].copy()
        extra["symbol"] = "NEW1"
        both = pd.concat([december.astype({"symbol": str}), extra.astype({"symbol": str})])
        _store_months(both.astype({"symbol": "category"}), folder)
    paths = _materialize(home, config)
    assert paths["weekly_features"] == expected, paths
    assert paths["daily_with_weekly_features"].startswith("full"), paths


def test_a_refresh_killed_after_linking_leaves_the_previous_version_whole(built, tmp_path) -> None:
    home = tmp_path / "home"
    shutil.copytree(built, home, symlinks=True)
    link = home / "data" / "weekly_features"
    current = current_version(link)
    before = _stored(home, "weekly_features")
    # A writer that links every history file, writes a tail, then waits to be killed.
    script = f"""
import sys, time, pyarrow as pa
from pathlib import Path
from memwise_assets.defs.store import VersionWriter
link = Path({str(link)!r})
writer = VersionWriter(link)
for path in sorted(Path({str(current)!r}).glob("part-*[0-9].parquet")):
    writer.link_file(path, path.name)
writer.write(pa.table({{"symbol": ["T000"], "week_end": [0]}}), "part-00000.tail.parquet")
print(writer.folder, flush=True)
time.sleep(60)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
        assert folder.is_dir() and (folder / "part-00000.parquet").is_file()
    finally:
        child.kill()  # SIGKILL: no cleanup of its own
        child.wait()
    assert current_version(link) == current
    _same(_stored(home, "weekly_features"), before, "weekly_features", 0)
    # The next writer sweeps the dead folder; the files it had linked stay in the current one.
    VersionWriter(link).discard()
    assert not folder.exists()
    _same(_stored(home, "weekly_features"), before, "weekly_features", 0)


def test_the_after_close_schedule_runs_the_month_and_every_price_asset_after_it() -> None:
    from memwise_assets.definitions import defs
    from memwise_assets.defs.prices.schedules import daily_prices_after_close

    job = defs.resolve_job_def(daily_prices_after_close.job_name)
    steps = {"daily_bars", "weekly_features", "daily_with_weekly_features", "weighted_labels"}
    assert set(job.graph.node_dict) == steps
    assert job.partitions_def is not None  # the schedule's run asks for the month's partition
    assert defs.resolve_job_def("daily_prices").graph.node_dict.keys() == {"daily_bars"}
