"""Cross-domain automation: the weekend refresh and cache purges after every run."""

import dagster as dg

from memwise_assets.defs.resources import MemoryResource

weekly_refresh_job = dg.define_asset_job(
    "weekly_refresh",
    selection=dg.AssetSelection.groups("weekly", "labels")
    - dg.AssetSelection.assets("intraday_bars", "intraday_labels"),
    description="Weekly features, their daily merge and the labels, from stored daily bars.",
)

weekly_refresh_schedule = dg.ScheduleDefinition(
    job=weekly_refresh_job,
    cron_schedule="0 6 * * 6",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def _purge(context: dg.RunStatusSensorContext, memory: MemoryResource, why: str) -> None:
    report = memory.session_cache(context.dagster_run.run_id).purge()
    context.log.info(
        f"run {context.dagster_run.run_id} {why}: purged {report['files_removed']} cache "
        f"files ({report['disk_freed_mb']:.1f} MB) from {report['cache_dir']}"
    )


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def purge_cache_on_failure(context: dg.RunFailureSensorContext, memory: MemoryResource) -> None:
    """Purge the session cache a failed run left behind."""
    _purge(context, memory, "failed")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED, default_status=dg.DefaultSensorStatus.RUNNING
)
def purge_cache_on_cancel(context: dg.RunStatusSensorContext, memory: MemoryResource) -> None:
    """Purge the session cache a cancelled run left behind."""
    _purge(context, memory, "was cancelled")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING
)
def purge_cache_on_success(context: dg.RunStatusSensorContext, memory: MemoryResource) -> None:
    """Remove the (already emptied) session folder of a successful run."""
    _purge(context, memory, "succeeded")
