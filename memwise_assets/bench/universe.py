"""Benchmark `universe`: the price branch for thousands of tickers x decades, by the Dagster CLI.

Per universe (tickers x years, sample source, tickers `T0000`.. in the run config), on a fresh
Dagster home with its own memory ledger: `dagster asset materialize` of `daily_bars` over the
monthly partitions (`--partition-range`), then one run of `weekly_features`,
`daily_with_weekly_features` and `weighted_labels`, one step at a time. Each step's figures
come from the home's event log: rows, seconds, peak RSS increase against its budget, block
plan and attempts. Beside each step, in the same run: its I/O floor and, for the weekly bars,
polars' streaming engine (`universe_refs`, fresh child processes). `universe_report` prints
the tables and the ratios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from memwise_assets.bench.backfill import _dagster, _fresh_home
from memwise_assets.bench.harness import BenchRow
from memwise_assets.bench.universe_figures import StepFigures, step_figures
from memwise_assets.bench.universe_refs import in_child

CASE = "universe"
NEEDS = "nothing: it runs on the sample source"
# The price branch, upstream first.
PRICE_STEP = "daily_bars"
DOWNSTREAM = ("weekly_features", "daily_with_weekly_features", "weighted_labels")
DEFAULT_TICKERS, FULL_TICKERS, QUICK_TICKERS = (1000, 5000), (1000, 5000, 10000), (10, 20)
DEFAULT_YEARS, QUICK_YEARS = (30, 5), (2,)
LAST_YEAR = 2024
# Steps one at a time: each step's peak and seconds are its own, not its neighbour's.
STEP_EXECUTION = {"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}}


def sizes(tickers: Sequence[int], years: Sequence[int]) -> list[tuple[int, int]]:
    """Each ticker count over the longest history, then the largest over each shorter one."""
    longest, largest = max(years), max(tickers)
    runs = [(n, longest) for n in sorted(set(tickers))]
    return runs + [(largest, y) for y in sorted(set(years), reverse=True) if y != longest]


def case_name(n_tickers: int, n_years: int) -> str:
    return f"{CASE}-{n_tickers}x{n_years}y"


def _materialize(home: Path, ledger: Path, select: str, extra: list[str], config: dict) -> float:
    """One `dagster asset materialize`; its wall seconds (a failed run is read from the log)."""
    args = [_dagster(), "asset", "materialize", "-m", "memwise_assets.definitions"]
    args += ["--select", select, *extra, "--config-json", json.dumps(config)]
    env = {**os.environ, "DAGSTER_HOME": str(home), "MEMWISE_LEDGER_DIR": str(ledger)}
    began = time.perf_counter()
    with open(home / "cli.log", "a", encoding="utf-8") as log:
        subprocess.run(args, env=env, stdout=log, stderr=log, check=False)
    return time.perf_counter() - began


@contextmanager
def _instance(home: Path) -> Iterator[dg.DagsterInstance]:
    # The shipped dagster.yaml reads its storage folder from $DAGSTER_HOME.
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def _latest_run_figures(home: Path, steps: Sequence[str]) -> dict[str, StepFigures]:
    with _instance(home) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:  # the CLI stopped before a run began: its own last words say why
            lines = (home / "cli.log").read_text(encoding="utf-8").strip().splitlines()
            said = lines[-1] if lines else "no output"
            return {
                step: StepFigures(step, status=f"failed: no run started ({said})") for step in steps
            }
        return {step: step_figures(instance, runs[0].run_id, step) for step in steps}


def _price_branch() -> dict[str, dg.AssetsDefinition]:
    from memwise_assets.definitions import ASSETS

    return {a.key.to_user_string(): a for a in ASSETS if a.key.to_user_string() in DOWNSTREAM}


def _read_columns() -> dict[str, dict[str, list[str] | None]]:
    """Per downstream step: upstream asset -> the columns it reads (None: all)."""
    found: dict[str, dict[str, list[str] | None]] = {}
    for name, asset in _price_branch().items():
        # An upstream read without an input (deps=, a reader of its own) is read whole.
        reads = {key.to_user_string(): None for key in asset.dependency_keys}
        for input_def in asset.node_def.input_defs:
            key = asset.keys_by_input_name[input_def.name].to_user_string()
            reads[key] = (input_def.metadata or {}).get("columns")
        found[name] = reads
    return found


def _downstream_runs(months: str) -> list[tuple[list[str], list[str]]]:
    """The CLI runs of the downstream steps: (steps, partition arguments) each.

    One run when they are all unpartitioned (or all partitioned like daily_bars); a run per
    step, upstream first, when the design mixes both (a time-partitioned downstream asset).
    """
    parted = {name: a.partitions_def is not None for name, a in _price_branch().items()}
    args = {name: ["--partition-range", months] if p else [] for name, p in parted.items()}
    if len(set(parted.values())) <= 1:
        return [(list(DOWNSTREAM), args.get(DOWNSTREAM[0], []))]
    return [([step], args[step]) for step in DOWNSTREAM]


def _floor(step: str, figures: dict[str, StepFigures], reads: dict, scratch: Path) -> dict:
    inputs = [
        {"files": [str(p) for p in figures[upstream].files], "columns": columns}
        for upstream, columns in reads.get(step, {}).items()
        if upstream in figures
    ]
    outputs = [str(p) for p in figures[step].files]
    if not outputs:
        return {"error": f"no stored file of {step} found from its memwise/path metadata"}
    return in_child("io_floor", {"inputs": inputs, "outputs": outputs}, scratch)


def run_universe(
    n_tickers: int, n_years: int, root: Path, say: Callable[[str], None] = lambda line: None
) -> list[BenchRow]:
    """The price branch for one universe on a fresh home under `root`; a row per step/reference."""
    case = case_name(n_tickers, n_years)
    home, ledger = _fresh_home(root, case), root / f"{case}-ledger"
    tickers = [f"T{i:04d}" for i in range(n_tickers)]
    months = f"{LAST_YEAR - n_years + 1}-01...{LAST_YEAR}-12"
    config = {**STEP_EXECUTION, "ops": {PRICE_STEP: {"config": {"tickers": tickers}}}}
    say(f"{case}: daily_bars {months}")
    cli = {
        PRICE_STEP: _materialize(home, ledger, PRICE_STEP, ["--partition-range", months], config)
    }
    figures = _latest_run_figures(home, [PRICE_STEP])
    if figures[PRICE_STEP].ok:
        for steps, extra in _downstream_runs(months):
            say(f"{case}: {', '.join(steps)}")
            label = "downstream" if len(steps) > 1 else steps[0]
            cli[label] = _materialize(home, ledger, ",".join(steps), extra, STEP_EXECUTION)
            figures.update(_latest_run_figures(home, steps))
    reads = _read_columns()
    scratch = root / f"{case}-scratch"
    rows: list[BenchRow] = []
    for step in (PRICE_STEP, *DOWNSTREAM):
        got = figures.get(step)
        if got is None:
            got = StepFigures(step=step, status=f"not run: {PRICE_STEP} failed")
        floor = _floor(step, figures, reads, scratch) if got.ok else {}
        rows.append(got.row(case, {"tickers": n_tickers, "years": n_years, "floor": floor}))
        if got.ok and floor.get("seconds"):
            rows.append(_reference_row(case, f"io-floor {step}", floor, n_tickers, n_years))
    if figures[PRICE_STEP].ok:
        files = [str(p) for p in figures[PRICE_STEP].files]
        polars = in_child("polars_weekly", {"files": files}, scratch)
        rows.append(_reference_row(case, "polars-streaming weekly", polars, n_tickers, n_years))
    wall = sum(cli.values())
    if all(step in figures and figures[step].ok for step in (PRICE_STEP, *DOWNSTREAM)):
        rows.append(_after_close_refresh(home, ledger, config, case, n_tickers, n_years, say))
    rows.append(
        BenchRow(case, "branch", n_tickers, "tickers", wall, 0.0,
                 "wall time of the CLI runs, start to exit",
                 {"tickers": n_tickers, "years": n_years, "cli_s": cli})
    )  # fmt: skip
    return rows


def _after_close_refresh(
    home: Path,
    ledger: Path,
    config: dict,
    case: str,
    n_tickers: int,
    n_years: int,
    say: Callable[[str], None],
) -> BenchRow:
    """The after-close refresh: the latest month fetched again, then the downstream run."""
    month = f"{LAST_YEAR}-12"
    say(f"{case}: after-close refresh of {month}")
    bars_s = _materialize(home, ledger, PRICE_STEP, ["--partition", month], config)
    down_s = _materialize(home, ledger, ",".join(DOWNSTREAM), [], STEP_EXECUTION)
    with _instance(home) as instance:
        paths = {}
        for step in DOWNSTREAM:
            found = instance.fetch_materializations(dg.AssetKey(step), limit=1).records
            meta = found[0].asset_materialization.metadata if found else {}  # type: ignore[union-attr]
            paths[step] = str(getattr(meta.get("memwise/refresh"), "value", "-"))
    return BenchRow(
        case, "after-close refresh", n_tickers, "tickers", bars_s + down_s, 0.0,
        "CLI wall time: daily_bars of the latest month, then the downstream run",
        {"tickers": n_tickers, "years": n_years, "daily_bars_s": bars_s,
         "downstream_s": down_s, "paths": paths},
    )  # fmt: skip


def _reference_row(case: str, impl: str, got: dict, n_tickers: int, n_years: int) -> BenchRow:
    note = got.get("error", "")
    return BenchRow(
        case, impl, float(got.get("rows", 0)), "rows", float(got.get("seconds", 0.0)),
        float(got.get("peak_increase_mb", 0.0)), note,
        {"tickers": n_tickers, "years": n_years, **got},
    )  # fmt: skip


def run(
    data_dir: Path | None,
    quick: bool,
    *,
    full: bool = False,
    tickers: Sequence[int] | None = None,
    years: Sequence[int] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[BenchRow]:
    """1,000 and 5,000 tickers x 30 years and 5,000 x 5 (10,000 x 30 too with `full`)."""
    tickers = tickers or (QUICK_TICKERS if quick else FULL_TICKERS if full else DEFAULT_TICKERS)
    years = years or (QUICK_YEARS if quick else DEFAULT_YEARS)
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="memwise-universe-") as tmp:
        for n_tickers, n_years in sizes(tickers, years):
            root = Path(tmp) / case_name(n_tickers, n_years)
            root.mkdir()
            rows.extend(run_universe(n_tickers, n_years, root, say))
            # A 5,000 x 30 home holds gigabytes: gone before the next universe starts.
            shutil.rmtree(root, ignore_errors=True)
    return rows
