"""The definitions load, resolve every job and name the assets users rely on; CLI validate."""

import dagster as dg

from memwise_assets.definitions import defs
from memwise_assets_tests.e2e.helpers import REPO, run_cli, tool

EXPECTED_ASSETS = {
    "daily_bars",
    "weekly_features",
    "daily_with_weekly_features",
    "weighted_labels",
    "intraday_bars",
    "intraday_labels",
    "sec_filing_sections",
    "filing_text_features",
    "daily_with_filing_features",
    "company_profiles",
    "company_fundamentals",
    "daily_with_fundamentals",
    "sec_fundamentals",
    "daily_with_sec_fundamentals",
}


def test_definitions_hold_every_asset_job_schedule_and_sensor() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    assert graph.get(dg.AssetKey("weekly_features")).parent_keys == {dg.AssetKey("daily_bars")}
    for name in ("daily_prices", "weekly_refresh", "retry_dead_letters"):
        assert defs.resolve_job_def(name) is not None
    schedules = {s.name for s in defs.schedules}
    assert {"daily_prices_after_close", "weekly_refresh_schedule"} <= schedules
    sensors = {s.name for s in defs.sensors}
    assert {"filings_landing_sensor", "dead_letter_sensor", "purge_cache_on_failure"} <= sensors
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "no_duplicate_symbol_date",
        "no_look_ahead",
        "labels_and_weights_valid",
        "core_10k_items_present",
    } <= checks


def test_instance_yaml_shipped_with_the_package_matches_the_repository() -> None:
    shipped = REPO / "memwise_assets" / "data" / "dagster.yaml"
    assert shipped.read_text() == (REPO / "dagster.yaml").read_text()


def test_dagster_definitions_validate(dagster_home) -> None:
    result = run_cli(
        [tool("dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        dagster_home,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
