"""The Dagster webserver: launch a materialization over GraphQL and read its memory metadata."""

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from memwise_assets_tests.e2e.helpers import REPO, tool

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture
def webserver(dagster_home: Path):
    # Runs launched from the UI start right away here; production homes queue them for the
    # daemon (dagster.yaml), which this test does not start.
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster.core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    port = _free_port()
    log = (dagster_home / "webserver.log").open("w")
    process = subprocess.Popen(
        [tool("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**__import__("os").environ, "DAGSTER_HOME": str(dagster_home)},
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError((dagster_home / "webserver.log").read_text()[-3000:]) from None
            time.sleep(1)
    else:
        process.kill()
        raise RuntimeError("dagster-webserver did not answer within 180 s")
    yield port
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


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
    launched = _graphql(webserver, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, status = time.time() + 240, None
    while time.time() < deadline:
        status = _graphql(webserver, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(1)
    assert status == "SUCCESS"
    asset = _graphql(webserver, METADATA, {"key": {"path": ["intraday_bars"]}})["assetOrError"]
    (materialization,) = asset["assetMaterializations"]
    assert materialization["runId"] == run_id
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    assert entries["dagster/row_count"]["intValue"] == 8000
    assert entries["memwise/peak_rss_mb"]["floatValue"] > 50
    assert entries["memwise/limit_mb"]["floatValue"] == 8192.0
    assert entries["memwise/within_limit"]["boolValue"] is True
    assert entries["memwise/estimator"]["text"] in {"static", "calibrated"}
