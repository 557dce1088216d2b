"""The prices domain's definitions: `daily_bars` and its after-close refresh."""

import dagster as dg

from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.prices.schedules import daily_prices_after_close, daily_prices_job

defs = dg.Definitions(
    assets=[daily_bars], jobs=[daily_prices_job], schedules=[daily_prices_after_close]
)
