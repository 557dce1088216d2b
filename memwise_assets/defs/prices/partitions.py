"""Monthly partitions of `daily_bars`: one partition (and one Parquet file) per month.

Decades of daily bars are a few hundred partitions, not thousands: Dagster's own cost per
partition (events, status, check evaluations) stays small beside the data, and a file
holds a month of every ticker. Which days of a month carry rows is the NYSE calendar's
business (`trading_days`), decided when the month is fetched.
"""

from __future__ import annotations

import dagster as dg

from memwise_assets.compute.prices.monthly import MONTH_FORMAT

PARTITIONS_START = "1990-01"

# end_offset=1: the current month's partition exists while the month runs, so the
# after-close schedule refreshes it every trading day.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITIONS_START, fmt=MONTH_FORMAT, end_offset=1
)
