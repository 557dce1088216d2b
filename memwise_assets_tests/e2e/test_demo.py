"""`memwise demo` on a fresh home: every asset stored with memory metadata, caches purged."""

import json

import dagster as dg
import pytest

from memwise_assets.definitions import ASSETS
from memwise_assets_tests.e2e.helpers import run_cli, tool

MEMORY_KEYS = (
    "memwise/peak_rss_mb",
    "memwise/rss_increase_mb",
    "memwise/limit_mb",
    "memwise/peak_usage_percent",
    "memwise/estimate_mb",
    "memwise/estimator",
    "memwise/input_mb",
    "memwise/frame_mb",
    "memwise/file_mb",
    "memwise/seconds",
    "memwise/cache_files_removed",
    "memwise/cache_mb_freed",
)


@pytest.mark.e2e
def test_demo_materializes_every_asset_with_memory_metadata(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    # The instance's dagster.yaml reads DAGSTER_HOME, as it would in the user's shell.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    args = [tool("memwise"), "demo", "--start", "2024-11", "--end", "2024-12"]
    first = run_cli(args, home)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "within" in first.stdout and "sec_filing_sections" in first.stdout

    instance = dg.DagsterInstance.from_config(str(home))
    import_baseline_mb = 60.0
    for asset in ASSETS:
        for key in asset.keys:
            record = instance.get_latest_materialization_event(key)
            assert record is not None, f"{key.to_user_string()} was not materialized"
            meta = record.asset_materialization.metadata
            missing = [k for k in MEMORY_KEYS if k not in meta]
            assert not missing, f"{key.to_user_string()} lacks {missing}"
            assert meta["memwise/within_limit"].value is True
            assert meta["memwise/peak_rss_mb"].value > import_baseline_mb
            assert meta["dagster/row_count"].value > 0
    runs = [r.dagster_run.run_id for r in instance.get_run_records()]
    cache_root = home / "memwise" / "cache"
    for run_id in runs:
        leftovers = list((cache_root / run_id).rglob("*")) if (cache_root / run_id).exists() else []
        assert not [p for p in leftovers if p.is_file()], f"cache of {run_id} not purged"
        metrics = home / "memwise" / "data" / "_runs" / run_id / "batch_execution_metrics.json"
        summary = json.loads(metrics.read_text())
        assert summary["execution"]["all_within_limit"] is True
    ledger = home / "memwise" / "ledger"
    assert ledger.exists()

    again = run_cli(args, home)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert len(instance.get_run_records()) == 2 * len(runs)
