"""A full disk mid-step: no partition of the failed step is left behind; the path is named."""

import errno
import os
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memwise_assets.defs.resources import MemoryResource

DAYS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])
ROUND: list[float] = [1.0]


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def spread(context: dg.AssetExecutionContext, memory: MemoryResource) -> Iterator[dg.Output]:
    with memory.step(context, budget="default", static_estimate_mb=8) as step:
        yield step.output({k: pd.DataFrame({"v": [ROUND[0]] * 10}) for k in context.partition_keys})


def _run(resources, **kwargs):
    return dg.materialize(
        [spread],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": "a",
            "dagster/asset_partition_range_end": "d",
        },
        **kwargs,
    )


def test_enospc_on_the_third_partition_leaves_none_of_the_step(
    memwise_resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    ROUND[0] = 1.0
    assert _run(memwise_resources, instance=instance).success
    root = memwise_resources["io_manager"].root / "spread"
    before = {p.name: p.read_bytes() for p in root.glob("*.parquet")}
    assert len(before) == 4
    real_write, calls = pq.write_table, []

    def full_on_third(table: pa.Table, where, **kwargs) -> None:
        calls.append(where)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", full_on_third)
    ROUND[0] = 2.0
    second = _run(memwise_resources, instance=instance, raise_on_error=False)
    assert not second.success
    failure = next(e for e in second.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    text = error.message + "".join(c.message for c in [error.cause] if c)
    assert "No space left on device" in text
    assert f"cannot write {root.resolve()}/" in text  # the full path of the failed file
    # Two partitions were written first: neither replaced the stored version.
    assert {p.name: p.read_bytes() for p in root.glob("*.parquet")} == before
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
