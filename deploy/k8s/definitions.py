"""memwise on Kubernetes: each heavy step in its own pod, sized from memwise's estimates.

Load it as the code location of a dagster-k8s deployment (see values.yaml beside it):
    dagster definitions validate -f deploy/k8s/definitions.py
Needs `dagster-k8s==0.29.27`. Pod memory requests are memwise's estimates (static until
the instance has history, then calibrated; recomputed whenever this module is loaded);
pod limits sit above the budget's emergency threshold, so memwise fails an overrunning
step with MemoryLimitExceeded before the kernel's cgroup OOM killer would kill the pod.
"""

import dagster as dg
from dagster_k8s import k8s_job_executor

from memwise_assets.definitions import build_defs
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.scale import REFRESH_SELECTION, k8s_step_config

K8S_REFRESH_JOB = "memwise_k8s_refresh"

# Without an instance here: no I/O at import time. A deployment that wants calibrated
# requests regenerates this config with `k8s_step_config(memory, instance)`.
k8s_refresh_job = dg.define_asset_job(
    K8S_REFRESH_JOB,
    selection=REFRESH_SELECTION,
    executor_def=k8s_job_executor,
    config={
        "execution": {
            "config": {
                "per_step_k8s_config": k8s_step_config(MemoryResource()),
                "max_concurrent": 2,
                # Step pods may be killed by the node (eviction, OOM): one retry.
                "retries": {"enabled": {}},
            }
        }
    },
    description="Weekly features, their daily merge and the labels, one pod per step.",
)

defs = dg.Definitions.merge(build_defs(), dg.Definitions(jobs=[k8s_refresh_job]))
