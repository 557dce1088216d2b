"""What the cluster tests do through the webserver: launch runs and backfills, wait for them."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import dagster as dg

from memwise_assets.cluster.local import CLUSTER_MODULE

REPOSITORY = "__repository__"
# The code location of the toy definitions whose step holds on (cluster/slow_defs.py).
SLOW_DEFS = "memwise_assets_tests.cluster.slow_defs"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

_LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""

_LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


def graphql(port: int, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST one GraphQL request to the webserver on 127.0.0.1:`port`; its `data`."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


def launch_run(
    port: int,
    job: str,
    *,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    location: str = CLUSTER_MODULE,
    assets: list[str] | None = None,
) -> str:
    """Submit a run through the queue; its run id."""
    selector: dict[str, Any] = {
        "repositoryLocationName": location,
        "repositoryName": REPOSITORY,
        "jobName": job,
    }
    if assets:
        selector["assetSelection"] = [{"path": [a]} for a in assets]
    params = {
        "selector": selector,
        "runConfigData": run_config or {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    result = graphql(port, _LAUNCH_RUN, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def launch_backfill(
    port: int, partitions_by_asset: dict[str, Any], run_config: dict[str, Any] | None = None
) -> str:
    """Launch an asset backfill: asset name -> (start, end) partition range, or None."""
    selectors = []
    for asset, bounds in partitions_by_asset.items():
        selector: dict[str, Any] = {"assetKey": {"path": [asset]}}
        if bounds is not None:
            selector["partitions"] = {"range": {"start": bounds[0], "end": bounds[1]}}
        selectors.append(selector)
    params = {"partitionsByAssets": selectors, "runConfigData": run_config or {}}
    result = graphql(port, _LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def wait_for_runs(
    instance: dg.DagsterInstance, run_ids: list[str], timeout_s: float
) -> dict[str, dg.DagsterRun]:
    """Wait until every run is finished; the runs (a timeout names the unfinished ones)."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = {r.run_id: r for r in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
        if len(runs) == len(run_ids) and all(r.status in FINISHED for r in runs.values()):
            return runs
        if time.monotonic() > deadline:
            pending = {k: r.status.value for k, r in runs.items() if r.status not in FINISHED}
            raise TimeoutError(f"runs not finished within {timeout_s:.0f} s: {pending}")
        time.sleep(1.0)
