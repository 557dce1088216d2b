"""The one write path: the IO manager stores only a step's output, yielded inside its step."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pytest

from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.step import StepMemory, step_output


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@dg.asset
def plain_output(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8):
        yield dg.Output(_frame())


@dg.asset
def plain_return(context: dg.AssetExecutionContext, memory: MemoryResource) -> pd.DataFrame:
    with memory.step(context, budget="default", static_estimate_mb=8):
        frame = _frame()
    return frame


@dg.asset
def late_output(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        output = step.output(_frame())
    yield output  # the block has ended: its reservation is released


@dg.asset
def inside(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        yield step.output(_frame(), metadata={"memwise/own": 1})


def _error(asset: dg.AssetsDefinition, resources: dict) -> str:
    result = dg.materialize([asset], resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    return " ".join(str(e.message) for e in [error, error.cause] if e is not None)


@pytest.mark.parametrize("asset", [plain_output, plain_return], ids=["output", "return"])
def test_a_plain_output_is_refused_saying_how_to_yield_it(asset, memwise_resources) -> None:
    message = _error(asset, memwise_resources)
    name = asset.key.to_user_string()
    assert f"{name} gave the IO manager a plain DataFrame" in message
    assert "yield `step.output(value)` inside `with memory.step(" in message
    assert not (memwise_resources["io_manager"].root / f"{name}.parquet").exists()


def test_an_output_yielded_after_its_step_ended_is_refused(memwise_resources) -> None:
    message = _error(late_output, memwise_resources)
    assert "late_output yielded its output after its memory.step() block ended" in message
    assert not (memwise_resources["io_manager"].root / "late_output.parquet").exists()
    assert memwise_resources["memory"].ledger.snapshot() == []


def test_an_output_yielded_inside_its_step_is_stored_with_the_steps_figures(
    memwise_resources,
) -> None:
    result = dg.materialize([inside], resources=memwise_resources)
    meta = result.asset_materializations_for_node("inside")[0].metadata
    figures = StepFigures.from_metadata(meta)
    assert figures is not None and figures.step == "inside"
    assert meta["memwise/own"].value == 1  # the asset's own metadata travels with it
    stored = pd.read_parquet(memwise_resources["io_manager"].root / "inside.parquet")
    pd.testing.assert_frame_equal(stored, _frame())


def test_the_step_closes_when_its_block_ends(memwise_resources) -> None:
    seen: list[StepMemory] = []

    @dg.asset
    def watched(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
        with memory.step(context, budget="default", static_estimate_mb=8) as step:
            seen.append(step)
            assert step.is_open
            yield step.output(_frame())

    dg.materialize([watched], resources=memwise_resources)
    assert [s.is_open for s in seen] == [False]


def test_the_io_manager_takes_only_an_open_steps_own_output() -> None:
    # The checks alone, on a bare step record: no ledger, monitor or cache is touched.
    step = StepMemory("a", "default", 1.0, None, 0.0, None, "a", None)  # type: ignore[arg-type]
    wrapped = step.output(_frame()).value
    assert step_output(wrapped, "a", "a")[0] is step
    with pytest.raises(RuntimeError, match="yielded the output of step 'a' from step 'b'"):
        step_output(wrapped, "b", "b")
    with pytest.raises(TypeError, match="plain DataFrame, not a step's output"):
        step_output(_frame(), "a", "a")
    step.is_open = False
    with pytest.raises(RuntimeError, match="after its memory.step\\(\\) block ended"):
        step_output(wrapped, "a", "a")
