"""Sensors of the filings domain: new files in the landing folder, dead letters to retry."""

import json

import dagster as dg

from memwise_assets.compute.filings.landing import scan_landing
from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.resources import FilingsResource

retry_dead_letters = dg.define_asset_job(
    "retry_dead_letters",
    selection=[sec_filing_sections],
    partitions_def=filing_partitions,
    description="Re-run dead-lettered filings (double budget after a memory or time failure).",
)


@dg.sensor(
    asset_selection=[sec_filing_sections],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def filings_landing_sensor(
    context: dg.SensorEvaluationContext, filings: FilingsResource
) -> dg.SensorResult | dg.SkipReason:
    """New or changed filings become partitions and runs, once their size is stable."""
    state = json.loads(context.cursor) if context.cursor else {"seen": {}, "pending": {}}
    seen, pending = state["seen"], state["pending"]
    landed, skipped = scan_landing(filings.landing)
    for reason in skipped:
        context.log.warning(f"landing folder: skipped {reason}")
    new_keys, requests = [], []
    for file in landed:
        signature = f"{file.size}:{file.mtime_ns}"
        if seen.get(file.key) == signature:
            continue
        # A file still being written changes size between ticks: wait for it to settle.
        if pending.get(file.key) != file.size:
            pending[file.key] = file.size
            continue
        pending.pop(file.key, None)
        seen[file.key] = signature
        if file.key not in context.instance.get_dynamic_partitions(filing_partitions.name):
            new_keys.append(file.key)
        requests.append(dg.RunRequest(partition_key=file.key, run_key=f"{file.key}:{signature}"))
    cursor = json.dumps({"seen": seen, "pending": pending}, sort_keys=True)
    if not requests:
        context.update_cursor(cursor)
        return dg.SkipReason(f"no settled new filings ({len(pending)} still settling)")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[filing_partitions.build_add_request(new_keys)],
        cursor=cursor,
    )


@dg.sensor(
    job=retry_dead_letters,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def dead_letter_sensor(
    context: dg.SensorEvaluationContext, filings: FilingsResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """Retry each dead letter (up to max_attempts), with more room where it ran out."""
    requests = []
    for letter in filings.dead_letters().list():
        if letter["attempts"] >= filings.max_attempts:
            continue
        requests.append(
            dg.RunRequest(
                partition_key=letter["partition_key"],
                run_key=f"{letter['partition_key']}:retry:{letter['attempts']}",
                run_config=retry_run_config(letter["status"]),
            )
        )
    return requests or dg.SkipReason("no dead letters to retry")


def retry_run_config(status: str) -> dict:
    """Run config giving a dead letter twice the room it ran out of."""
    config = {
        "memory_multiplier": 2.0 if status == "memory" else 1.0,
        "timeout_multiplier": 2.0 if status == "timeout" else 1.0,
    }
    return {"ops": {"sec_filing_sections": {"config": config}}}
