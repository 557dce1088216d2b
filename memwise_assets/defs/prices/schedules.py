"""The after-close schedule: the current month's prices once the US market has closed, and
everything computed from them brought up to date in the same run."""

import dagster as dg
import pandas as pd

from memwise_assets.compute.prices import trading_days
from memwise_assets.compute.prices.monthly import month_key
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.prices.partitions import monthly_partitions

daily_prices_job = dg.define_asset_job(
    "daily_prices", selection=[daily_bars], partitions_def=monthly_partitions
)

# The month's partition, then the weekly features, their daily merge and the labels: the
# weekly assets take their tail path (a month's work, see docs/bounded-memory.md), the
# labels rebuild whole. One run: a refresh is never left half done between two runs. The
# other domains' assets are named by key (a domain imports no other domain).
after_close_refresh_job = dg.define_asset_job(
    "after_close_refresh",
    selection=dg.AssetSelection.assets(daily_bars)
    | dg.AssetSelection.assets("weekly_features", "daily_with_weekly_features", "weighted_labels"),
    description="The current month of daily_bars and every price asset computed from it.",
)


@dg.schedule(
    cron_schedule="30 18 * * 1-5",
    execution_timezone="America/New_York",
    job=after_close_refresh_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def daily_prices_after_close(context: dg.ScheduleEvaluationContext):
    """Refresh the month's partition (up to today) and its downstream at 18:30 New York time
    on trading days."""
    day = pd.Timestamp(context.scheduled_execution_time).tz_localize(None).normalize()
    if len(trading_days(day, day + pd.Timedelta(days=1))) == 0:
        return dg.SkipReason(f"{day.date()} is not an NYSE trading day")
    # One run per day (run_key), each rewriting the month so far: a month file is small.
    return dg.RunRequest(run_key=day.strftime("%Y-%m-%d"), partition_key=month_key(day))
