"""Beyond one machine, checked: k8s pod sizes from memwise estimates, deploy/ files that load."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from memwise_assets.defs.calibration import Estimate
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.scale import (
    BASELINE_MB,
    HEAVY_STEPS,
    K8S_CONFIG_TAG,
    dask_run_config,
    k8s_step_config,
    k8s_tags_for,
)
from memwise_assets.memory import estimate_for_size

DEPLOY = Path(__file__).parents[2] / "deploy"


def _memory(config: dict) -> tuple[str, str]:
    resources = config["container_config"]["resources"]
    return resources["requests"]["memory"], resources["limits"]["memory"]


def test_k8s_tags_carry_the_estimate_as_request_and_the_limit_above_it() -> None:
    tags = k8s_tags_for(1000.0, limit_mb=1500.0, cpu="500m")
    config = tags[K8S_CONFIG_TAG]
    assert _memory(config) == (f"{int(BASELINE_MB) + 1000}Mi", f"{int(BASELINE_MB) + 1500}Mi")
    assert config["container_config"]["resources"]["requests"]["cpu"] == "500m"
    annotations = config["pod_template_spec_metadata"]["annotations"]
    assert annotations == {"memwise/estimate-mb": "1000", "memwise/estimator": "given"}
    # A filing's size-class estimate: 12 x 100 MB + 500 MB, a LARGE one.
    static = k8s_tags_for(estimate_for_size(100.0))[K8S_CONFIG_TAG]
    assert _memory(static) == (f"{int(BASELINE_MB) + 1700}Mi",) * 2
    assert static["pod_template_spec_metadata"]["annotations"]["memwise/estimator"] == (
        "static-LARGE"
    )
    calibrated = k8s_tags_for(Estimate(mb=321.4, estimator="calibrated"))[K8S_CONFIG_TAG]
    assert _memory(calibrated)[0] == f"{int(BASELINE_MB) + 322}Mi"  # rounded up, never down


@pytest.mark.parametrize(
    ("estimate", "limit"),
    [(-1.0, None), (float("nan"), None), (100.0, 50.0), (100.0, float("inf"))],
)
def test_k8s_tags_refuse_nonsense(estimate: float, limit: float | None) -> None:
    with pytest.raises(ValueError, match="estimate|limit_mb"):
        k8s_tags_for(estimate, limit_mb=limit)


def test_k8s_tags_are_what_dagster_k8s_reads() -> None:
    job = pytest.importorskip("dagster_k8s.job")
    tags = {key: json.dumps(value) for key, value in k8s_tags_for(2048.0).items()}
    parsed = job.get_user_defined_k8s_config(tags)
    assert parsed.container_config["resources"]["requests"]["memory"] == "2448Mi"


def test_step_config_is_static_until_history_then_calibrated() -> None:
    memory = MemoryResource(home_dir="/nonexistent", limits_mb={"labels": 4096.0})
    static = k8s_step_config(memory)
    assert sorted(static) == sorted(HEAVY_STEPS)
    request, limit = _memory(static["weighted_labels"])
    assert (request, limit) == ("4496Mi", f"{math.ceil(BASELINE_MB + 4096 * 1.2)}Mi")
    with dg.DagsterInstance.ephemeral() as instance:
        for size, increase in [(100, 210), (200, 400), (300, 610), (400, 800), (500, 1010)]:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    "weighted_labels",
                    metadata={"memwise/input_mb": size, "memwise/rss_increase_mb": increase},
                )
            )
        calibrated = k8s_step_config(memory, instance)["weighted_labels"]
    annotations = calibrated["pod_template_spec_metadata"]["annotations"]
    assert annotations["memwise/estimator"] == "calibrated"
    # ~2 MB per input MB at the largest input seen (500 MB): about 1 GB, not the 4 GB budget.
    assert 1000 <= int(annotations["memwise/estimate-mb"]) <= 1100
    assert _memory(calibrated)[1] == limit  # the limit stays at the emergency threshold


def test_dask_run_config_needs_a_scheduler_and_absolute_folders(tmp_path: Path) -> None:
    config = dask_run_config("tcp://127.0.0.1:8786", memory_home=tmp_path, data_dir=tmp_path / "d")
    assert config["execution"]["config"]["cluster"] == {
        "existing": {"address": "tcp://127.0.0.1:8786"}
    }
    assert config["resources"]["io_manager"]["config"]["base_dir"] == str(tmp_path / "d")
    with pytest.raises(ValueError, match="absolute"):
        dask_run_config("tcp://127.0.0.1:8786", memory_home="relative/home")
    with pytest.raises(ValueError, match="scheduler address"):
        dask_run_config("127.0.0.1")


def test_postgres_instance_config_is_valid(tmp_path: Path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    raw = yaml.safe_load((DEPLOY / "dagster-postgres.yaml").read_text())
    assert set(raw["storage"]["postgres"]["postgres_db"]) == {
        "hostname",
        "port",
        "db_name",
        "username",
        "password",
        "scheme",
    }
    # psycopg2 is what dagster-postgres installs; SQLAlchemy 2.1's default is psycopg 3.
    assert raw["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert raw["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    shutil.copy(DEPLOY / "dagster-postgres.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))  # Dagster's own schema check
    assert "postgres" in config["storage"]


def test_helm_values_point_at_the_k8s_definitions() -> None:
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"][-1].endswith("deploy/k8s/definitions.py")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_k8s_definitions_validate(tmp_path: Path) -> None:
    pytest.importorskip("dagster_k8s")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    shutil.copy(DEPLOY.parent / "dagster.yaml", tmp_path / "dagster.yaml")
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-f", str(DEPLOY / "k8s" / "definitions.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "All code locations passed validation" in done.stderr + done.stdout
