"""The weekly refresh of company data: profiles and statements change slowly."""

import dagster as dg

from memwise_assets.defs.company.assets import (
    company_fundamentals,
    company_profiles,
    daily_with_fundamentals,
)

company_refresh_job = dg.define_asset_job(
    "company_refresh",
    selection=[company_profiles, company_fundamentals, daily_with_fundamentals],
)

# Saturday 05:00 New York: after Friday's prices, an hour before the weekly refresh.
company_refresh_schedule = dg.ScheduleDefinition(
    name="company_refresh_schedule",
    job=company_refresh_job,
    cron_schedule="0 5 * * 6",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
