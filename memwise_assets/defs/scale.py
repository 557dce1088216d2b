"""Beyond one machine: the same assets as a Dask job, and k8s step pods sized by memwise.

Neither dagster-dask nor dagster-k8s is needed to import this module: the Dask executor is
imported when a Dask job is built, and the k8s side is plain config (see deploy/k8s/).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.defs.calibration import Estimate
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import ResourceEstimate

DASK_JOB_NAME = "memwise_dask_refresh"
K8S_CONFIG_TAG = "dagster-k8s/config"
# What a step process holds before its asset allocates anything (Python, Dagster, pandas,
# pyarrow): memwise budgets count memory above it, a pod's limit counts all of it.
BASELINE_MB = 400.0
# Steps whose pods get their own memory request, by op name, with the budget they run under.
HEAVY_STEPS: dict[str, str] = {
    "daily_bars": "prices",
    "weekly_features": "weekly",
    "daily_with_weekly_features": "weekly",
    "weighted_labels": "labels",
    "sec_filing_sections": "filings",
}
# The unpartitioned part of the graph: what a Dask refresh recomputes from stored bars.
REFRESH_SELECTION = dg.AssetSelection.assets(
    "weekly_features", "daily_with_weekly_features", "weighted_labels"
)


def dask_asset_job(
    name: str = DASK_JOB_NAME, selection: dg.AssetSelection = REFRESH_SELECTION
) -> dg.UnresolvedAssetJobDefinition:
    """An asset job whose steps run as tasks on a Dask cluster (`dagster-dask`)."""
    from memwise_assets.defs.scale_dask import memwise_dask_executor

    return dg.define_asset_job(
        name,
        selection=selection,
        executor_def=memwise_dask_executor,
        description="Weekly features, their daily merge and the labels, on a Dask cluster.",
    )


def dask_run_config(
    address: str, *, memory_home: str | Path | None = None, data_dir: str | Path | None = None
) -> dict[str, Any]:
    """Run config pointing the Dask job at a scheduler, with absolute resource folders.

    Steps run in worker processes, maybe on other hosts: relative folders would resolve
    against each worker's working directory, so they are refused here.
    """
    if not address or "://" not in address:
        raise ValueError(f"expected a scheduler address like tcp://host:8786; got {address!r}")
    resources: dict[str, Any] = {}
    for key, field, folder in (
        ("memory", "home_dir", memory_home),
        ("io_manager", "base_dir", data_dir),
    ):
        if folder is None:
            continue
        if not Path(folder).is_absolute():
            raise ValueError(f"{key}.{field} must be an absolute path for Dask; got {folder!r}")
        resources[key] = {"config": {field: str(folder)}}
    config: dict[str, Any] = {
        "execution": {"config": {"cluster": {"existing": {"address": address}}}}
    }
    if resources:
        config["resources"] = resources
    return config


def _mib(mb: float) -> str:
    return f"{math.ceil(mb)}Mi"


def k8s_tags_for(
    estimate: float | ResourceEstimate | Estimate,
    *,
    limit_mb: float | None = None,
    baseline_mb: float = BASELINE_MB,
    cpu: str | None = None,
) -> dict[str, dict[str, Any]]:
    """`dagster-k8s/config` op tags whose pod memory request comes from a memwise estimate.

    request = baseline + estimate; limit = baseline + `limit_mb` (default: the estimate).
    Set `limit_mb` above the step's emergency threshold so memwise fails the step cleanly
    before the kernel's cgroup OOM killer would.
    """
    if isinstance(estimate, ResourceEstimate):
        mb, estimator = float(estimate.memory_mb), f"static-{estimate.category.name}"
    elif isinstance(estimate, Estimate):
        mb, estimator = float(estimate.mb), estimate.estimator
    else:
        mb, estimator = float(estimate), "given"
    for name, value in (("estimate", mb), ("baseline_mb", baseline_mb)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of MB >= 0; got {value!r}")
    ceiling = mb if limit_mb is None else float(limit_mb)
    if not (math.isfinite(ceiling) and ceiling >= mb):
        raise ValueError(f"limit_mb must be >= the estimate ({mb:.0f} MB); got {limit_mb!r}")
    requests: dict[str, str] = {"memory": _mib(baseline_mb + mb)}
    if cpu is not None:
        requests["cpu"] = cpu
    config = {
        "container_config": {
            "resources": {"requests": requests, "limits": {"memory": _mib(baseline_mb + ceiling)}}
        },
        "pod_template_spec_metadata": {
            "annotations": {
                "memwise/estimate-mb": str(math.ceil(mb)),
                "memwise/estimator": estimator,
            }
        },
    }
    return {K8S_CONFIG_TAG: config}


def k8s_step_config(
    memory: MemoryResource, instance: dg.DagsterInstance | None = None
) -> dict[str, dict[str, Any]]:
    """Per-step k8s config of the heavy steps, for `k8s_job_executor`'s `per_step_k8s_config`.

    Requests come from each asset's estimate (calibrated from the instance's history once
    it has enough, else the budget); limits sit at the budget's emergency threshold.
    """
    steps = {}
    for op_name, budget in HEAVY_STEPS.items():
        limit = memory.limit_for(budget)
        key = dg.AssetKey(op_name)
        history = memory.history(instance, key)
        # The next input is unknown when pods are sized: assume the largest one seen lately.
        largest = max((size for size, _ in history), default=0.0)
        estimate = memory.estimate(instance, key, largest, limit, history=history)
        ceiling = max(limit * memory.emergency_fraction, estimate.mb)
        steps[op_name] = k8s_tags_for(estimate, limit_mb=ceiling)[K8S_CONFIG_TAG]
    return steps
