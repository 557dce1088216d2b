"""The weekly domain's definitions: weekly features, their daily merge and the weekend refresh.

The weekend refresh (`defs/automation.py`) also brings the labels up to date; it selects them
by group, so this domain imports nothing of the labels domain.
"""

import dagster as dg

from memwise_assets.defs.automation import weekly_refresh_job, weekly_refresh_schedule
from memwise_assets.defs.weekly.assets import daily_with_weekly_features, weekly_features

defs = dg.Definitions(
    assets=[weekly_features, daily_with_weekly_features],
    jobs=[weekly_refresh_job],
    schedules=[weekly_refresh_schedule],
)
