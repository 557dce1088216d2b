"""Step limits in Dagster: enforced timeouts (static, override, adaptive) and memory retries."""

import ctypes
import gc
import statistics
import time
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory.limits import choose_timeout
from memwise_assets_tests.builders.processes import run_fresh


class SleepConfig(dg.Config):
    sleep_s: float = 0.0


@dg.asset(metadata={"memwise/timeout_s": 5})
def sleepy(
    context: dg.AssetExecutionContext, config: SleepConfig, memory: MemoryResource
) -> Iterator[dg.Output]:
    with memory.step(context, budget="default") as step:
        (step.cache_dir / "scratch.bin").write_bytes(b"x" * 1000)
        if config.sleep_s:
            ctypes.CDLL(None).sleep(int(config.sleep_s))  # a C call, not Python's time.sleep
        yield step.output(pd.DataFrame({"x": np.arange(5)}))


@dg.asset
def bystander(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default") as step:
        yield step.output(pd.DataFrame({"y": [1, 2, 3]}))


def _resources(tmp_path, **memory_kwargs) -> dict:
    return {
        "memory": MemoryResource(home_dir=str(tmp_path / "home"), **memory_kwargs),
        "io_manager": ParquetIOManager(base_dir=str(tmp_path / "data")),
    }


def test_a_step_in_a_long_c_call_fails_past_its_timeout_and_the_rest_goes_on(tmp_path) -> None:
    resources = _resources(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([sleepy, bystander], resources=resources, instance=instance).success
    stored = tmp_path / "data" / "sleepy.parquet"
    before = stored.read_bytes()
    config = {"ops": {"sleepy": {"config": {"sleep_s": 60}}}}
    result = dg.materialize(
        [sleepy, bystander],
        resources=resources,
        instance=instance,
        run_config=config,
        raise_on_error=False,
    )
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "timed out" in failure.description and "timeout of 5.0 s" in failure.description
    assert "basis: override (asset metadata memwise/timeout_s)" in failure.description
    elapsed = failure.metadata["memwise/elapsed_s"].value
    assert 5.0 <= elapsed < 10.0, "fails within 5 s of its deadline"
    assert result.asset_materializations_for_node("bystander"), "the other asset materializes"
    assert stored.read_bytes() == before, "the stored output is byte-identical"
    cache = tmp_path / "home" / "cache" / result.run_id
    assert not list(cache.rglob("scratch.bin")), "the timed-out step's cache is purged"


@dg.asset
def steady(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default") as step:
        time.sleep(0.1 + 0.02 * (len(context.instance.get_runs()) % 5))
        yield step.output(pd.DataFrame({"x": [1]}))


def test_after_ten_materializations_the_timeout_is_adaptive_and_follows_the_seconds(
    tmp_path,
) -> None:
    resources = _resources(tmp_path, timeout_floor_s=0.1, timeout_k=4.0, timeout_margin=2.0)
    instance = dg.DagsterInstance.ephemeral()
    metas = []
    for _ in range(11):
        result = dg.materialize([steady], resources=resources, instance=instance)
        metas.append(result.asset_materializations_for_node("steady")[0].metadata)
    bases = [m["memwise/timeout_basis"].value for m in metas]
    assert bases[:5] == ["static"] * 5 and bases[5:] == ["adaptive"] * 6
    assert metas[0]["memwise/timeout_s"].value == 600.0  # the default budget's, budgets.py
    seconds = [m["memwise/seconds"].value for m in metas[:10]]
    expected = choose_timeout(
        static_s=600, seconds_history=seconds, floor_s=0.1, k=4.0, margin=2.0
    ).seconds
    assert metas[10]["memwise/timeout_s"].value == pytest.approx(expected, rel=1e-3)
    assert metas[10]["memwise/timeout_s"].value >= 4.0 * statistics.median(seconds) - 1e-3


@dg.asset
def greedy(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default") as step:
        ballast = np.ones(int(1.3 * step_budget_mb * 1024 * 1024 / 8))  # 1.3 x the budget
        step.mark("allocated")
        total = float(ballast[:10].sum())
        del ballast
        yield step.output(pd.DataFrame({"x": [total]}))


step_budget_mb = 200.0


@pytest.fixture(autouse=True)
def _collect_failed_frames():
    # A failed attempt's frames (and their ballast) sit in reference cycles: free them here,
    # not inside a later test's step, where the monitor would see memory fall mid-step.
    gc.collect()
    yield
    gc.collect()


_GREEDY_IN_A_FRESH_PROCESS = """
import json, sys
from pathlib import Path
import dagster as dg
from memwise_assets.defs.figures import StepFigures
from memwise_assets_tests.defs.test_step_limits import _resources, greedy, step_budget_mb

resources = _resources(Path(sys.argv[1]), limits_mb={"default": step_budget_mb}, pool_mb=4000.0)
result = dg.materialize([greedy], resources=resources, raise_on_error=False)
meta = result.asset_materializations_for_node("greedy")[0].metadata if result.success else {}
figures = StepFigures.from_metadata(meta)
keys = ("limit_mb", "estimate_mb", "estimator", "budget_reason", "rss_increase_mb")
print(json.dumps({
    "events": [e.event_type_value for e in result.all_events],
    "success": result.success,
    **({k: getattr(figures, k) for k in keys} if figures else {}),
}))
"""


def test_a_step_over_its_budget_is_retried_with_a_raised_budget(tmp_path) -> None:
    # A fresh process: after other tests (heap settings, freed arenas) the ballast can reuse
    # memory already resident and never show as an increase, so the budget is never passed.
    got = run_fresh(_GREEDY_IN_A_FRESH_PROCESS, str(tmp_path))
    assert "STEP_UP_FOR_RETRY" in got["events"] and got["success"]
    raised = got["limit_mb"]
    assert raised >= 1.5 * 1.2 * step_budget_mb * 0.95, "raised from the peak the monitor saw"
    assert got["estimate_mb"] == raised, "the retry's admission reserves it"
    assert got["estimator"] == "memory-retry"
    assert "after MemoryLimitExceeded" in got["budget_reason"]
    assert got["rss_increase_mb"] < raised


def test_a_step_that_needs_more_than_the_pool_fails_at_once(tmp_path) -> None:
    resources = _resources(tmp_path, limits_mb={"default": step_budget_mb}, pool_mb=230.0)
    result = dg.materialize([greedy], resources=resources, raise_on_error=False)
    events = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in events and not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "pool holds 230 MB" in failure.description and "needed more than" in failure.description
