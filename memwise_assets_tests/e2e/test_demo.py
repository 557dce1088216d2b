"""`memwise demo` on a fresh home: every asset stored with memory metadata, caches purged,
a quiet summary whose check column and exit code are true to the event log."""

import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.definitions import ASSETS
from memwise_assets.defs.figures import StepFigures
from memwise_assets_tests.e2e.helpers import run_cli, tool

MEMORY_KEYS = (*sorted(StepFigures.REQUIRED_KEYS), "memwise/frame_mb", "memwise/file_mb")


# asset, rows, seconds, increase / limit, within, checks, process peak
TABLE_ROW = re.compile(r"^(\w+)\s+([\d,]+)\s+[\d.]+\s+\d+ / \d+\s+(yes|NO)\s+(.+?)\s+\d+$")


def _table(stdout: str) -> dict[str, tuple[str, str, str]]:
    """The closing table: asset -> (rows, within, checks)."""
    rows = {}
    for line in stdout.splitlines():
        match = TABLE_ROW.match(line)
        if match:
            rows[match[1]] = (match[2], match[3], match[4])
    return rows


def _checks_in_event_log(instance: dg.DagsterInstance) -> tuple[dict[str, str], bool]:
    """What the checks column must say per asset, and whether an ERROR check failed."""
    tally: dict[str, list[int]] = {}
    error_failed = False
    for record in instance.get_run_records():
        events = instance.get_records_for_run(
            record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for event in events:
            evaluation = event.event_log_entry.dagster_event.event_specific_data
            counts = tally.setdefault(evaluation.asset_key.to_user_string(), [0, 0, 0])
            warn = evaluation.severity == dg.AssetCheckSeverity.WARN
            counts[0 if evaluation.passed else 2 if warn else 1] += 1
            error_failed |= not evaluation.passed and not warn
    said = {}
    for asset, (ok, failed, warned) in tally.items():
        said[asset] = (
            f"{ok} ok"
            + (f", {failed} FAILED" if failed else "")
            + (f", {warned} warned" if warned else "")
        )
    return said, error_failed


@pytest.mark.e2e
def test_demo_materializes_every_asset_with_memory_metadata(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    # The instance's dagster.yaml reads DAGSTER_HOME, as it would in the user's shell.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    args = [tool("memwise"), "demo", "--start", "2024-11", "--end", "2024-12"]
    first = run_cli(args, home)
    instance = dg.DagsterInstance.from_config(str(home))
    said, error_failed = _checks_in_event_log(instance)
    # The README's rule: a failed ERROR-severity check (or a step over its limit) exits 1.
    assert first.returncode == (1 if error_failed else 0), first.stdout + first.stderr
    # Quiet: progress and the summary on stdout, Dagster's log in a file named there.
    assert first.stderr == ""
    assert len(first.stdout.splitlines()) <= 40, first.stdout
    log = home / "memwise" / "demo.log"
    assert f"Dagster's log goes to {log}" in first.stdout
    assert "Materialized value daily_bars" in log.read_text()
    assert "Materialized value" not in first.stdout and "Warning" not in first.stdout
    table = _table(first.stdout)
    assert set(table) == {key.to_user_string() for asset in ASSETS for key in asset.keys}
    for asset, (_rows, within, checks) in table.items():
        assert within == "yes"
        assert checks == said.get(asset, "none"), f"{asset}: table {checks}, event log {said}"
    if error_failed:
        assert "Checks FAILED (ERROR severity): sec_filing_sections:" in first.stdout

    import_baseline_mb = 60.0
    for asset in ASSETS:
        for key in asset.keys:
            record = instance.get_latest_materialization_event(key)
            assert record is not None, f"{key.to_user_string()} was not materialized"
            meta = record.asset_materialization.metadata
            missing = [k for k in MEMORY_KEYS if k not in meta]
            assert not missing, f"{key.to_user_string()} lacks {missing}"
            figures = StepFigures.from_metadata(meta)
            assert figures is not None and figures.within_limit is True
            assert figures.peak_rss_mb > import_baseline_mb
            assert meta["dagster/row_count"].value > 0
    runs = [r.dagster_run.run_id for r in instance.get_run_records()]
    cache_root = home / "memwise" / "cache"
    for run_id in runs:
        leftovers = list((cache_root / run_id).rglob("*")) if (cache_root / run_id).exists() else []
        assert not [p for p in leftovers if p.is_file()], f"cache of {run_id} not purged"
        metrics = home / "memwise" / "data" / "_runs" / run_id / "batch_execution_metrics.json"
        summary = json.loads(metrics.read_text())
        assert summary["execution"]["all_within_limit"] is True
    ledger = Path(os.environ["MEMWISE_LEDGER_DIR"])  # the "host" ledger of this test session
    assert ledger.exists()

    # Again, with the landing folder moved to an empty one: the demo reads its shipped samples.
    empty = tmp_path / "landing"
    empty.mkdir()
    again = run_cli(args, home, MEMWISE_LANDING_DIR=str(empty))
    assert again.returncode == first.returncode, again.stdout[-3000:] + again.stderr[-3000:]
    assert len(instance.get_run_records()) == 2 * len(runs)
    assert _table(again.stdout) == table
