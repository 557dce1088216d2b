"""StepFigures: the step's memwise/ metadata written and read by one owner, old events included."""

from __future__ import annotations

import ast
from dataclasses import fields

import dagster as dg
import pytest

import memwise_assets
from memwise_assets.defs import figures as figures_module
from memwise_assets.defs.figures import (
    DETAIL_FIELDS,
    INCREASE_KEY,
    KEYS,
    LIMIT_KEY,
    OLD_KEYS,
    PEAK_KEY,
    READ_ONLY_KEYS,
    StepFigures,
    figure,
)
from memwise_assets_tests.builders.modules import MODULES

FULL = StepFigures(
    peak_rss_mb=740.5, rss_increase_mb=7.25, limit_mb=1024.0, estimate_mb=64.0,
    estimator="static", input_mb=3.5, seconds=1.5, within_limit=True, peak_usage_percent=0.7,
    admission_wait_s=0.01, sample_count=3, peak_source="VmHWM", cache_files_removed=2,
    cache_mb_freed=0.5, estimator_inputs={"history": 0}, timeout_inputs={"budget": "default"},
    samples=[{"stage": "start", "memory_mb": 733.2, "delta_mb": 0.0}], timeout_s=600.0,
    timeout_basis="static", budget_reason="retry 1", step="toy", blocks=4, block_rows=1000,
    block_plan="4 blocks of whole symbols: 768 MB / 400 B per row", host="host-a",
)  # fmt: skip


def _stored(metadata: dict[str, object]) -> dict[str, dg.MetadataValue]:
    """The metadata as the event log hands it back, through a real materialization."""

    @dg.op
    def record(context) -> None:  # unannotated: Dagster cannot resolve a string annotation
        context.log_event(dg.AssetMaterialization("toy", metadata=metadata))

    @dg.job
    def recording() -> None:
        record()

    instance = dg.DagsterInstance.ephemeral()
    recording.execute_in_process(instance=instance)
    [entry] = instance.fetch_materializations(dg.AssetKey("toy"), limit=1).records
    return dict(entry.asset_materialization.metadata)


def test_every_field_round_trips_through_stored_metadata() -> None:
    written = FULL.to_metadata()
    assert set(written) == KEYS, "a full step writes every declared key"
    assert StepFigures.from_metadata(_stored(written)) == FULL
    assert StepFigures.from_metadata(written) == FULL, "plain values read too"


def test_optional_figures_are_left_out_when_unset() -> None:
    minimal = StepFigures(
        peak_rss_mb=100.0, rss_increase_mb=1.0, limit_mb=500.0, estimate_mb=50.0,
        estimator="static", input_mb=0.0, seconds=0.1,
    )  # fmt: skip
    assert set(minimal.to_metadata()) == StepFigures.REQUIRED_KEYS
    assert StepFigures.from_metadata(_stored(minimal.to_metadata())) == minimal


def test_the_ui_sorts_the_step_memory_beside_its_limit() -> None:
    # The Dagster UI plots Int and Float entries, one chart each, sorted by label.
    numeric = (dg.FloatMetadataValue, dg.IntMetadataValue)
    stored = _stored(FULL.to_metadata())
    plotted = sorted(k for k, v in stored.items() if isinstance(v, numeric))
    increase = plotted.index(INCREASE_KEY)
    assert plotted[increase + 1] == LIMIT_KEY
    # The grouped memory charts, the four flat contract keys, the rest of the step's figures.
    assert len(plotted) <= 14, plotted


def test_events_written_before_the_grouping_still_read() -> None:
    old = {
        PEAK_KEY: 300.0, "memwise/rss_increase_mb": 20.0, "memwise/limit_mb": 500.0,
        "memwise/estimate_mb": 64.0, "memwise/peak_usage_percent": 4.0,
        "memwise/estimator": "static", "memwise/input_mb": 1.0, "memwise/seconds": 2.0,
        "memwise/within_limit": True, "memwise/admission_wait_s": 0.5,
        "memwise/sample_count": 1, "memwise/samples": [{"stage": "s", "delta_mb": 1.0}],
        "memwise/cache_files_removed": 3, "memwise/cache_mb_freed": 0.25,
        "memwise/estimator_inputs": {"history": 2}, "memwise/timeout_s": 60.0,
        "memwise/timeout_basis": "static", "memwise/timeout_inputs": {"budget": "default"},
    }  # fmt: skip
    assert set(old) - {PEAK_KEY} <= READ_ONLY_KEYS | KEYS
    read = StepFigures.from_metadata(_stored(old))
    assert read is not None
    assert (read.rss_increase_mb, read.limit_mb, read.estimate_mb) == (20.0, 500.0, 64.0)
    assert (read.peak_usage_percent, read.admission_wait_s, read.cache_files_removed) == (
        4.0,
        0.5,
        3,
    )
    assert read.samples == [{"stage": "s", "delta_mb": 1.0}]
    assert read.estimator_inputs == {"history": 2} and read.timeout_s == 60.0
    assert figure(_stored(old), INCREASE_KEY) == 20.0, "the calibration's reader"
    assert {f"memwise/{n}" for n in DETAIL_FIELDS} == READ_ONLY_KEYS
    assert set(OLD_KEYS.values()) <= StepFigures.REQUIRED_KEYS, "the flat contract keys stay"


def test_a_partition_without_the_steps_figures_reads_as_none() -> None:
    assert StepFigures.from_metadata({"dagster/row_count": dg.MetadataValue.int(3)}) is None


def test_every_field_is_written_and_read() -> None:
    names = {f.name for f in fields(StepFigures)}
    assert {n for n in names if getattr(FULL, n) is None} == set(), "FULL sets every field"
    source = ast.unparse(ast.parse(open(figures_module.__file__).read()))
    for name in names:
        assert f"self.{name}" in source or f"'{name}'" in source, f"{name} never written"


# String constants the step-figure keys may appear as, outside figures.py: a pod annotation
# (defs/scale.py) shares the name `memwise/estimator` and is a Kubernetes contract of its own.
ELSEWHERE = {"memwise_assets.defs.scale": {"memwise/estimator"}}


@pytest.mark.parametrize("key", sorted(KEYS | READ_ONLY_KEYS))
def test_no_module_but_figures_spells_a_step_key(key: str) -> None:
    owner = figures_module.__name__
    spelt = []
    for name, path in MODULES.items():
        if name == owner or not name.startswith(memwise_assets.__name__):
            continue
        constants = {
            node.value
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        if key in constants and key not in ELSEWHERE.get(name, set()):
            spelt.append(name)
    assert spelt == [], f"{key} spelt out in {spelt}; import it from {owner}"
