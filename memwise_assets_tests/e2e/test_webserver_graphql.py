"""`dagster dev` (webserver + daemon, the repository's dagster.yaml): launch a materialization
over GraphQL, let the queued-run daemon start it, and read its memory metadata back."""

import time
from pathlib import Path

import pytest

from memwise_assets.defs.figures import ESTIMATOR_KEY, LIMIT_KEY, PEAK_KEY, WITHIN_KEY
from memwise_assets_tests.e2e.helpers import free_port, graphql, serving, tool

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN_STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""
METADATA = """
query Meta($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries {
          label
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
          ... on BoolMetadataEntry { boolValue }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}"""


@pytest.fixture
def webserver(dagster_home: Path):
    """`dagster dev` on a free port: the UI's GraphQL, and the daemon that dequeues runs."""
    # The dagster_home fixture holds the repository's dagster.yaml: runs are queued.
    assert "max_concurrent_runs" in (dagster_home / "dagster.yaml").read_text()
    port = free_port()
    args = [tool("dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    with serving(args, dagster_home, port, "dagster_dev.log"):
        yield port


@pytest.mark.e2e
def test_launch_through_graphql_and_read_memory_metadata(webserver: int) -> None:
    params = {
        "selector": {
            "repositoryLocationName": "memwise",
            "repositoryName": "__repository__",
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": ["intraday_bars"]}],
        },
        "runConfigData": {},
        "executionMetadata": {"tags": []},
    }
    launched = graphql(webserver, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    # Queued first: the daemon's QueuedRunCoordinator starts it.
    deadline, status = time.time() + 240, None
    while time.time() < deadline:
        status = graphql(webserver, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(1)
    assert status == "SUCCESS"
    asset = graphql(webserver, METADATA, {"key": {"path": ["intraday_bars"]}})["assetOrError"]
    (materialization,) = asset["assetMaterializations"]
    assert materialization["runId"] == run_id
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    assert entries["dagster/row_count"]["intValue"] == 8000
    assert entries[PEAK_KEY]["floatValue"] > 50
    assert entries[LIMIT_KEY]["floatValue"] == 8192.0
    assert entries[WITHIN_KEY]["boolValue"] is True
    assert entries[ESTIMATOR_KEY]["text"] in {"static", "calibrated"}
