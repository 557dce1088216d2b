"""Benchmark `backfill-30y`: 30 years x 500 tickers of `daily_bars` through the Dagster CLI.

Each run is `dagster asset materialize` on a fresh Dagster home, beside the same partitions
of a no-op asset (Dagster's own cost per partition), then the after-close refresh of the
latest month on the home that holds the whole history. Figures per run: wall time, the
ratio to the no-op, event-log growth, data files written and the step's peak RSS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import dagster as dg

from memwise_assets.bench.harness import BenchRow
from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.defs.budgets import MB
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.prices.partitions import monthly_partitions

CASE = "backfill-30y"


def _dagster() -> str:
    found = Path(sys.executable).parent / "dagster"
    return str(found) if found.exists() else (shutil.which("dagster") or "dagster")


@dg.asset(partitions_def=monthly_partitions, backfill_policy=dg.BackfillPolicy.single_run())
def noop_bars() -> None:
    """The peer: the same monthly partitions, nothing computed or stored."""


noop_defs = dg.Definitions(assets=[noop_bars])


def _fresh_home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir()
    shipped = resources.files("memwise_assets") / "data" / "dagster.yaml"
    (home / "dagster.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    return home


def _materialize(home: Path, target: list[str], select: str, partitions: str, config=None):
    args = [_dagster(), "asset", "materialize", *target, "--select", select]
    args += ["--partition-range" if "..." in partitions else "--partition", partitions]
    if config is not None:
        args += ["--config-json", json.dumps(config)]
    began = time.perf_counter()
    done = subprocess.run(
        args,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])} failed:\n{done.stderr[-3000:]}")
    return seconds


def _event_log_mb(home: Path) -> float:
    return sum(p.stat().st_size for p in home.glob("*.db")) / MB


def _step_figures(home: Path) -> dict[str, float]:
    # The shipped dagster.yaml reads its storage folder from $DAGSTER_HOME.
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            records = instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=1).records
            materialization = records[0].asset_materialization
            assert materialization is not None, "daily_bars was not materialized"
            figures = StepFigures.from_metadata(materialization.metadata)
            assert figures is not None, "daily_bars' last materialization carries no figures"
            return {"rss_increase_mb": figures.rss_increase_mb, "limit_mb": figures.limit_mb}
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def _backfill_row(
    label: str, home: Path, keys: Sequence[str], config: dict, noop_s: float, note: str
):
    log_before = _event_log_mb(home)
    seconds = _materialize(
        home, ["-m", "memwise_assets.definitions"], "daily_bars", f"{keys[0]}...{keys[-1]}", config
    )
    files = len(list((home / "memwise" / "data" / "daily_bars").glob("*.parquet")))
    step = _step_figures(home)
    return BenchRow(
        CASE,
        label,
        len(keys),
        "months",
        seconds,
        step["rss_increase_mb"],
        f"{seconds / noop_s:.2f}x no-op; event log +{_event_log_mb(home) - log_before:.1f} MB; "
        f"{files} files for {len(keys)} months; step peak {step['rss_increase_mb']:.0f} of "
        f"{step['limit_mb']:.0f} MB; {note}",
    )


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """500 tickers x 30 years (50 x 2 when quick): no-op, sample, CSV, then the refresh."""
    months, n_tickers = (24, 50) if quick else (360, 500)
    keys = monthly_partitions.get_partition_keys()[-months:]
    tickers = [f"T{i:03d}" for i in range(n_tickers)]
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="memwise-backfill-") as tmp:
        root = Path(tmp)
        noop_home = _fresh_home(root, "noop")
        noop_target = ["-m", "memwise_assets.bench.backfill", "-a", "noop_defs"]
        # Warm-up, not counted: the first CLI start of a session pays for cold imports.
        _materialize(_fresh_home(root, "warm-up"), noop_target, "noop_bars", keys[-1])
        noop_s = _materialize(noop_home, noop_target, "noop_bars", f"{keys[0]}...{keys[-1]}")
        rows.append(
            BenchRow(
                CASE, "dagster-noop", months, "months", noop_s, 0.0,
                f"event log {_event_log_mb(noop_home):.1f} MB; same partitions, no data",
            )
        )  # fmt: skip
        sample_home = _fresh_home(root, "sample")
        config = {"ops": {"daily_bars": {"config": {"tickers": tickers}}}}
        rows.append(
            _backfill_row("memwise-sample", sample_home, keys, config, noop_s, "sample source")
        )
        refresh_s = _materialize(
            sample_home, ["-m", "memwise_assets.definitions"], "daily_bars", keys[-1], config
        )
        rows.append(
            BenchRow(
                CASE, "memwise-refresh-latest", 1, "months", refresh_s, 0.0,
                f"after-close refresh of {keys[-1]} on the home holding {months} months",
            )
        )  # fmt: skip
        csv_folder = _write_csvs(root / "csv-files", tickers, keys)
        csv_home = _fresh_home(root, "csv")
        csv_config = {
            "ops": {
                "daily_bars": {
                    "config": {"source": "csv", "csv_folder": str(csv_folder), "tickers": tickers}
                }
            }
        }
        rows.append(
            _backfill_row(
                "memwise-csv", csv_home, keys, csv_config, noop_s, f"{n_tickers} CSV files"
            )
        )
        shutil.rmtree(csv_folder, ignore_errors=True)
    return rows


def _write_csvs(folder: Path, tickers: list[str], keys: Sequence[str]) -> Path:
    from memwise_assets.bench.prices import write_yahoo_folder

    window = monthly_partitions.time_window_for_partition_key
    start, end = window(keys[0]).start.date(), window(keys[-1]).end.date()
    # In slices: the whole universe at once would hold every working copy of the sample.
    for i in range(0, len(tickers), 100):
        bars = SamplePriceSource(seed=0).fetch(tickers[i : i + 100], start, end).frame
        write_yahoo_folder(bars, folder)
    return folder
