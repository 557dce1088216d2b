"""`memwise bench --case universe`: a tiny universe end to end, and its table when steps fail."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from memwise_assets.bench import universe
from memwise_assets.bench.harness import BenchRow
from memwise_assets.bench.universe import sizes
from memwise_assets.bench.universe_figures import stored_files
from memwise_assets.bench.universe_report import format_universe, ratios
from memwise_assets.cli.commands import main

STEPS = ["daily_bars", "weekly_features", "daily_with_weekly_features", "weighted_labels"]
_RATIO_LINE = re.compile(r"^\s+(\S.*?)\s{2,}(-|\d+\.\d+)\s+target (.+)$")


def _printed_ratios(out: str) -> dict[str, str]:
    tail = out.split("universe ratios", 1)[1]
    return {m.group(1): m.group(2) for m in map(_RATIO_LINE.match, tail.splitlines()) if m}


@pytest.mark.slow
@pytest.mark.e2e
def test_tiny_universe_runs_every_step_with_its_references_and_ratios(
    dagster_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the case's homes land here
    # Steps in the CLI's own process: a third of the CPU of a subprocess per step (what the
    # case uses to keep each step's figures its own), and the same event log to read.
    monkeypatch.setattr(universe, "STEP_EXECUTION", {"execution": {"config": {"in_process": {}}}})
    out_json = tmp_path / "rows.json"
    # One universe: the CLI's start-up, not the data, is what a run this small costs.
    args = ["bench", "--case", "universe", "--tickers", "20", "--years", "2"]
    assert main([*args, "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())
    steps = [r for r in rows if r["detail"].get("kind") == "step"]
    cases = ["universe-20x2y"]
    assert [(r["case"], r["impl"]) for r in steps] == [(c, s) for c in cases for s in STEPS]
    for row in steps:
        detail = row["detail"]
        assert detail["status"] == "ok" and row["items"] > 0 and detail["attempts"] == 1, row
        assert detail["limit_mb"] > 0 and detail["rss_increase_mb"] is not None, row
        assert detail["files"] >= 1 and detail["floor"]["rows"] == row["items"], row
    by_impl = {(r["case"], r["impl"]): r for r in rows}
    for case in cases:
        weekly = by_impl[(case, "weekly_features")]["items"]
        polars = by_impl[(case, "polars-streaming weekly")]
        # The same W-FRI weeks from the same files (weekly_features may drop a partial week).
        assert polars["note"] == "" and abs(polars["items"] - weekly) <= 2 * 20, polars
        assert by_impl[(case, "branch")]["seconds"] > 0
        # The latest month again, then the downstream run: the weekly assets take their tail.
        refresh = by_impl[(case, "after-close refresh")]["detail"]["paths"]
        assert refresh["weekly_features"].startswith("tail"), refresh
        assert refresh["daily_with_weekly_features"].startswith("tail"), refresh
    printed = _printed_ratios(capsys.readouterr().out)
    for step in STEPS:
        assert float(printed[f"20x2y {step} / its I/O floor (time)"]) > 0
    assert float(printed["20x2y weekly_features / polars streaming (time)"]) > 0
    assert float(printed["20x2y weekly_features / polars streaming (peak increase)"]) > 0


def _step(case: str, step: str, status: str = "ok", peak: float = 100.0) -> BenchRow:
    n, y = (int(x) for x in case.removeprefix("universe-").removesuffix("y").split("x"))
    detail = {"kind": "step", "status": status, "tickers": n, "years": y, "limit_mb": 500.0,
              "rss_increase_mb": peak, "attempts": 3, "floor": {"seconds": 2.0}}  # fmt: skip
    return BenchRow(case, step, 10.0, "rows", 4.0, peak, "", detail)


def test_flat_memory_ratios_compare_tickers_then_years() -> None:
    rows = [
        _step("universe-1000x30y", "weighted_labels", peak=400.0),
        _step("universe-5000x30y", "weighted_labels", peak=500.0),
        _step("universe-5000x5y", "weighted_labels", peak=250.0),
        BenchRow("universe-5000x30y", "branch", 5000, "tickers", 600.0, 0.0, "",
                 {"tickers": 5000, "years": 30, "cli_s": {"daily_bars": 600.0}}),
    ]  # fmt: skip
    found = {r.name: r.value for r in ratios(rows)}
    assert found["5000x30y vs 1000x30y weighted_labels (peak increase)"] == 1.25
    assert found["5000x30y vs 5000x5y weighted_labels (peak increase)"] == 2.0
    assert found["5000x30y whole branch wall time (minutes)"] == 10.0


def test_a_failed_step_prints_dashes_not_a_crash() -> None:
    rows = [
        _step("universe-1000x30y", "daily_bars", peak=400.0),
        _step("universe-5000x30y", "daily_bars", status="failed: MemoryLimitExceeded"),
        _step("universe-5000x30y", "weekly_features", status="not run: daily_bars failed"),
        BenchRow("universe-5000x30y", "branch", 5000, "tickers", 600.0, 0.0, "",
                 {"tickers": 5000, "years": 30, "cli_s": {"daily_bars": 600.0}}),
    ]  # fmt: skip
    rows.append(_step("universe-1000x30y", "weekly_features"))
    rows[-1].detail["floor"] = {"error": "no stored file of weekly_features found"}
    text = format_universe(rows)
    assert "failed: MemoryLimitExceeded" in text and "not run: daily_bars failed" in text
    found = {r.name: r for r in ratios(rows)}
    assert found["1000x30y daily_bars / its I/O floor (time)"].value == 2.0
    no_floor = found["1000x30y weekly_features / its I/O floor (time)"]
    assert no_floor.value is None and no_floor.why_missing.startswith("no stored file")
    assert found["5000x30y vs 1000x30y daily_bars (peak increase)"].value is None
    branch = found["5000x30y whole branch wall time (minutes)"]
    assert branch.value is None and branch.why_missing.startswith("daily_bars, weekly_features")


def test_sizes_cover_tickers_at_the_longest_history_then_shorter_histories() -> None:
    assert sizes([5000, 1000], [30, 5]) == [(1000, 30), (5000, 30), (5000, 5)]
    assert sizes([1000, 5000, 10000], [30]) == [(1000, 30), (5000, 30), (10000, 30)]


def test_stored_files_reads_a_file_or_a_folder_of_blocks(tmp_path: Path) -> None:
    single = tmp_path / "weekly_features.parquet"
    single.write_bytes(b"x")
    folder = tmp_path / "weighted_labels"
    folder.mkdir()
    for name in ("b-0001.parquet", "b-0000.parquet", ".b-0002.parquet.tmp", ".b-0003.parquet"):
        (folder / name).write_bytes(b"x")
    assert stored_files(str(single)) == [single]
    assert stored_files(str(folder)) == [folder / "b-0000.parquet", folder / "b-0001.parquet"]
    assert stored_files(str(tmp_path / "missing.parquet")) == []
