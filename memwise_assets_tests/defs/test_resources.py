"""The memory resource: refused configuration, oversize and waiting admissions, calibration."""

import threading
import time
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from memwise_assets.defs.calibration import calibrated_estimate
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limits_mb": {"prices": -5}}, "limits_mb"),
        ({"reserve_fraction": 1.0}, "reserve_fraction"),
        ({"timeouts_s": {"SMALL": 0, "MEDIUM": 1, "LARGE": 2}}, "timeouts_s"),
        ({"timeouts_s": {"TINY": 5}}, "timeouts_s"),
        ({"warn_fraction": 1.5}, "warn_fraction"),
        ({"admission_timeout_s": 0}, "admission_timeout_s"),
        ({"pool_mb": -1}, "pool_mb"),
        ({"large_above_mb": 1, "small_below_mb": 5}, "large_above_mb"),
    ],
)
def test_absurd_configuration_is_refused_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(Exception, match=field):
        MemoryResource(**kwargs)


def _sized_asset(name: str, mb: float, hold_s: float, log: list):
    @dg.asset(name=name)
    def sized(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
        with memory.step(context, budget="default", static_estimate_mb=mb) as step:
            log.append((name, "start", time.monotonic()))
            time.sleep(hold_s)
            log.append((name, "end", time.monotonic()))
            yield step.output(pd.DataFrame({"x": np.arange(3)}))

    return sized


def test_oversize_request_fails_at_once_saying_what_the_host_has(tmp_path) -> None:
    memory = MemoryResource(home_dir=str(tmp_path), pool_mb=100.0)
    log: list = []
    asset = _sized_asset("huge", 500.0, 0, log)
    result = dg.materialize(
        [asset],
        resources={"memory": memory, "io_manager": ParquetIOManager(base_dir=str(tmp_path))},
        raise_on_error=False,
    )
    assert not result.success and not log
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "asked the ledger for 500 MB" in failure.description
    assert "pool holds 100 MB" in failure.description


def test_admission_that_waits_too_long_is_retried_later(tmp_path) -> None:
    memory = MemoryResource(
        home_dir=str(tmp_path), pool_mb=100.0, admission_timeout_s=0.5, max_admission_retries=0
    )
    log: list = []
    asset = _sized_asset("blocked", 80.0, 0, log)
    with memory.ledger.reserve(60.0, timeout_s=1, label="someone else"):
        result = dg.materialize(
            [asset],
            resources={"memory": memory, "io_manager": ParquetIOManager(base_dir=str(tmp_path))},
            raise_on_error=False,
        )
    assert not result.success and not log
    events = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" in events or "STEP_FAILURE" in events
    failure = result.get_step_failure_events()[0].step_failure_data
    assert "RetryRequested" in failure.error.cls_name or "Retry" in failure.error.message


def test_concurrent_runs_needing_over_half_the_pool_are_serialised(tmp_path) -> None:
    """Two runs whose steps each want 60 % of the pool never overlap (from timestamps)."""
    memory = MemoryResource(home_dir=str(tmp_path), pool_mb=1000.0, admission_timeout_s=60)
    io = ParquetIOManager(base_dir=str(tmp_path / "data"))
    log: list = []
    assets = [_sized_asset(f"big_{i}", 600.0, 1.0, log) for i in range(2)]
    results = []

    def launch(asset) -> None:
        results.append(dg.materialize([asset], resources={"memory": memory, "io_manager": io}))

    threads = [threading.Thread(target=launch, args=(a,)) for a in assets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 2 and all(r.success for r in results)
    spans = {}
    for name, what, at in log:
        spans.setdefault(name, {})[what] = at
    (a, b) = sorted(spans.values(), key=lambda s: s["start"])
    assert b["start"] >= a["end"], f"the second step started before the first released: {spans}"
    waited = [
        StepFigures.from_metadata(r.asset_materializations_for_node(n)[0].metadata).admission_wait_s
        for r, n in zip(results, [r.all_node_events[0].node_name for r in results], strict=True)
    ]
    assert max(waited) >= 0.8


def test_estimate_is_static_until_history_then_calibrated() -> None:
    static = calibrated_estimate(static_mb=500, input_mb=10, history=[(10, 50)] * 4)
    assert (static.estimator, static.mb) == ("static", 500)
    history = [(float(x), 20.0 + 3.0 * x) for x in range(1, 11)] + [(10.0, 90.0)]
    fitted = calibrated_estimate(static_mb=500, input_mb=10, history=history, quantile=0.95)
    assert fitted.estimator == "calibrated"
    assert fitted.mb >= 90.0, "never below the largest peak seen for similar sizes"
    assert fitted.mb < 500, "history tightens the static formula"
    assert fitted.inputs["history"] == 11 and 3.0 <= fitted.inputs["slope"] <= 5.0


@dg.asset
def calibrating(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", input_mb=5.0, static_estimate_mb=900) as step:
        ballast = np.ones(5_000_000)
        del ballast
        yield step.output(pd.DataFrame({"x": [1]}))


def test_resource_calibrates_from_the_instance_history(tmp_path) -> None:
    resources = {
        "memory": MemoryResource(home_dir=str(tmp_path), calibration_min_history=3),
        "io_manager": ParquetIOManager(base_dir=str(tmp_path / "data")),
    }
    instance = dg.DagsterInstance.ephemeral()
    estimators = []
    for _ in range(4):
        result = dg.materialize([calibrating], resources=resources, instance=instance)
        figures = StepFigures.from_metadata(
            result.asset_materializations_for_node("calibrating")[0].metadata
        )
        estimators.append((figures.estimator, figures.estimate_mb))
    assert [e[0] for e in estimators] == ["static"] * 3 + ["calibrated"]
    assert estimators[0][1] == 900 and estimators[3][1] < 900
