"""A step over its memory limit: cleanups run, it fails with MemoryLimitExceeded, others go on."""

from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.defs.figures import FAILED_KEY, INCREASE_KEY
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource

_MB = 1024 * 1024
CLEANUPS: list[str] = []


@dg.asset
def hog(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """Allocates 300 MB in 10 MB chunks against a 50 MB budget."""
    with memory.step(context, budget="default", static_estimate_mb=40) as step:
        spare = [np.ones(20 * _MB // 8)]  # a droppable cache the cleanup frees
        step.register_cleanup(lambda: (spare.clear(), CLEANUPS.append("spare dropped")))
        held = []
        for i in range(30):
            held.append(np.ones(10 * _MB // 8))
            step.mark(f"chunk-{i + 1}-of-30")
        yield step.output(pd.DataFrame({"n": [len(held)]}))


@dg.asset
def bystander(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    """A small step of the same run that must still materialize."""
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        step.mark("built")
        yield step.output(pd.DataFrame({"x": np.arange(10, dtype=np.int16)}))


def test_overrun_fails_that_step_only_after_cleanups(tmp_path) -> None:
    CLEANUPS.clear()
    memory = MemoryResource(
        home_dir=str(tmp_path / "memwise"), limits_mb={"default": 50}, max_memory_retries=0
    )
    io = ParquetIOManager(base_dir=str(tmp_path / "data"))
    result = dg.materialize(
        [hog, bystander], resources={"memory": memory, "io_manager": io}, raise_on_error=False
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["hog"]
    error = failures[0].step_failure_data.error
    chain = [error, *([error.cause] if error.cause else [])]
    text = " ".join(e.message for e in chain)
    assert any("MemoryLimitExceeded" in e.cls_name for e in chain if e.cls_name), text
    # Stage and figures in the message: "at stage 'chunk-k-of-30': X MB in use ... limit Y MB".
    assert "at stage 'chunk-" in text and "MB in use after cleanup" in text and "limit" in text
    stage = int(text.split("at stage 'chunk-")[1].split("-of-30")[0])
    assert 3 <= stage < 30  # stopped near 60 MB above its start, not after 300 MB
    # The callback ran at the first emergency (freeing the spare), again before the abort.
    assert CLEANUPS and set(CLEANUPS) == {"spare dropped"}
    assert (tmp_path / "data" / "bystander.parquet").exists()
    assert not (tmp_path / "data" / "hog.parquet").exists()
    assert len(result.asset_materializations_for_node("bystander")) == 1
    assert result.asset_materializations_for_node("hog") == []
    assert memory.ledger.snapshot() == []


def test_overrun_reports_kernel_peak_and_budget_and_leaves_history(tmp_path) -> None:
    from memwise_assets.defs.calibration import history_for

    memory = MemoryResource(
        home_dir=str(tmp_path / "memwise"), limits_mb={"default": 50}, max_memory_retries=0
    )
    io = ParquetIOManager(base_dir=str(tmp_path / "data"))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize(
            [hog],
            resources={"memory": memory, "io_manager": io},
            instance=instance,
            raise_on_error=False,
        )
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        error = failure.step_failure_data.error
        text = " ".join(e.message for e in [error, *([error.cause] if error.cause else [])])
        # Both the configured budget and the absolute line it became, and the kernel's peak.
        assert "budget 50.0 MB above the" in text and "i.e. line" in text, text
        assert "(kernel high-water mark)" in text
        peak = float(text.split("peak ")[1].split(" MB")[0])
        in_use = float(text.split("mark), ")[1].split(" MB")[0])
        assert peak >= in_use
        # The failed step's figures are history: the next estimate can grow from them.
        observations = instance.fetch_observations(dg.AssetKey("hog"), limit=5).records
        meta = observations[0].asset_observation.metadata
        assert meta[FAILED_KEY].value is True
        assert meta[INCREASE_KEY].value > 50
        history = history_for(instance, dg.AssetKey("hog"), window=5)
        assert len(history) == 1 and history[0][1] > 50
