"""One StepFigures per step, whether the step's figures are copied onto every partition or not."""

import dagster as dg
import pytest

from memwise_assets.defs.figures import PEAK_KEY
from memwise_assets.report.collect import step_figures

PARTITIONS = {"2024-06-03": 10, "2024-06-04": 12, "2024-06-05": 11}
FIGURES = {PEAK_KEY: 300.0, "memwise/rss_increase_mb": 20.0, "memwise/limit_mb": 500.0}


def _job(copied: bool) -> dg.JobDefinition:
    @dg.op
    def record_step(context: dg.OpExecutionContext) -> None:
        for i, (partition, rows) in enumerate(PARTITIONS.items()):
            # Older history: the step's figures (flat keys) and total rows on every partition.
            meta = {"dagster/row_count": sum(PARTITIONS.values()) if copied else rows}
            if copied or i == len(PARTITIONS) - 1:
                meta |= FIGURES
            context.log_event(dg.AssetMaterialization("toy", partition=partition, metadata=meta))

    @dg.job
    def toy_job() -> None:
        record_step()

    return toy_job


@pytest.mark.parametrize("copied", [True, False])
def test_a_step_is_one_row_with_its_partitions_and_total_rows(copied: bool) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = _job(copied).execute_in_process(instance=instance)
    records = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    [figures] = step_figures(records).values()
    assert (figures.asset, figures.partitions) == ("toy", 3)
    assert figures.rows == sum(PARTITIONS.values())
    assert (figures.peak_rss_mb, figures.rss_increase_mb, figures.limit_mb) == (300.0, 20.0, 500.0)
    assert figures.timeout_s is None and figures.timeout_basis == ""
