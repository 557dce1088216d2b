"""A step stuck in a GIL-holding C call is killed past its timeout; its note reaches the log."""

import time
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets_tests.reliability.timeout_jobs import stuck_job


@pytest.mark.slow
def test_a_step_holding_the_gil_is_killed_and_says_why_first(dagster_home: Path) -> None:
    instance = dg.DagsterInstance.get()
    started = time.monotonic()
    result = dg.execute_job(dg.reconstructable(stuck_job), instance=instance, raise_on_error=False)
    assert time.monotonic() - started < 100, "not the 120 s the C call would take"
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["stuck"]
    assert result.asset_materializations_for_node("unaffected")
    logs = instance.all_logs(result.run_id)
    notes = [
        i
        for i, e in enumerate(logs)
        if e.step_key == "stuck" and "holds the GIL" in (e.message or "")
    ]
    failure = next(
        i for i, e in enumerate(logs) if e.dagster_event and e.dagster_event.is_step_failure
    )
    assert notes and notes[0] < failure, "the reason is in the event log before the failure"
    note = logs[notes[0]].message
    assert "timeout of 3.0 s" in note and "basis: override" in note
    assert not (dagster_home / "memwise" / "data" / "stuck.parquet").exists()
