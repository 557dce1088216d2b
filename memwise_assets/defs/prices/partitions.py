"""Monthly partitions of `daily_bars`: one partition (and one Parquet file) per month.

Decades of daily bars are a few hundred partitions, not thousands: Dagster's own cost per
partition (events, status, check evaluations) stays small beside the data, and a file
holds a month of every ticker. Which days of a month carry rows is the NYSE calendar's
business (`trading_days`), decided when the month is fetched.

The first month is where your history starts: `MEMWISE_HISTORY_START=2015-01` (read when
the definitions load) makes the UI count missing months from there, not from 1990.
"""

from __future__ import annotations

import os
import re

import dagster as dg

from memwise_assets.compute.prices.monthly import MONTH_FORMAT

DEFAULT_HISTORY_START = "1990-01"
HISTORY_START_ENV = "MEMWISE_HISTORY_START"


def history_start(value: str | None = None) -> str:
    """The first month (YYYY-MM) of daily_bars: `value`, else $MEMWISE_HISTORY_START, else 1990."""
    month = value or os.environ.get(HISTORY_START_ENV) or DEFAULT_HISTORY_START
    if not re.fullmatch(r"(197[1-9]|19[89]\d|2\d{3})-(0[1-9]|1[0-2])", month):
        raise ValueError(
            f"{HISTORY_START_ENV}: expected a month YYYY-MM from 1971-01 (the calendar's "
            f"first year) on, got {month!r}"
        )
    return month


# Partitions must exist when the definitions load, so the start is read then (once).
PARTITIONS_START = history_start()

# end_offset=1: the current month's partition exists while the month runs, so the
# after-close schedule refreshes it every trading day.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITIONS_START, fmt=MONTH_FORMAT, end_offset=1
)
