"""`dagster dev` (webserver + daemon, the repository's dagster.yaml): launch a materialization
over GraphQL, let the queued-run daemon start it, and read its memory metadata back."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from memwise_assets.defs.figures import ESTIMATOR_KEY, LIMIT_KEY, PEAK_KEY, WITHIN_KEY
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
    """`dagster dev` on a free port: the UI's GraphQL, and the daemon that dequeues runs."""
    # The dagster_home fixture holds the repository's dagster.yaml: runs are queued.
    assert "max_concurrent_runs" in (dagster_home / "dagster.yaml").read_text()
    port = _free_port()
    log = (dagster_home / "dagster_dev.log").open("w")
    process = subprocess.Popen(
        [tool("dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        # dagster dev starts the webserver, the daemon and code servers: one group to stop.
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError((dagster_home / "dagster_dev.log").read_text()[-3000:]) from None
            time.sleep(1)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("dagster dev did not answer within 180 s")
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
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
    # Queued first: the daemon's QueuedRunCoordinator starts it.
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
    assert entries[PEAK_KEY]["floatValue"] > 50
    assert entries[LIMIT_KEY]["floatValue"] == 8192.0
    assert entries[WITHIN_KEY]["boolValue"] is True
    assert entries[ESTIMATOR_KEY]["text"] in {"static", "calibrated"}
