"""Daily partitions on NYSE trading days."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from memwise_assets.compute.prices import trading_days

PARTITIONS_START = "2015-01-02"
# Holidays are listed this far ahead; the calendar is computed, not fetched.
_HOLIDAYS_THROUGH = "2036-12-31"


def _holidays(start: str, end: str) -> list[dt.datetime]:
    weekdays = pd.bdate_range(start, end)
    closed = weekdays.difference(trading_days(start, end))
    return [ts.to_pydatetime() for ts in closed]


# end_offset=1: today's partition exists before midnight, so the after-close schedule can
# materialize it on the day.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START,
    end_offset=1,
    exclusions=["0 0 * * 6", "0 0 * * 0", *_holidays(PARTITIONS_START, _HOLIDAYS_THROUGH)],
)
