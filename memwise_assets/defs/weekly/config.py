"""Run configuration of the weekly assets: which price the features read, when a week is known."""

from typing import Literal

import dagster as dg
from pydantic import Field


class WeeklyFeaturesConfig(dg.Config):
    """Knobs of `weekly_features`."""

    price_field: Literal["close", "adj_close"] = Field(
        default="adj_close",
        description="Price the features read: adj_close (total return: each day's OHLC scaled "
        "by adj_close / close, so dividends count) or close (split-adjusted only).",
    )


class WeeklyAttachConfig(dg.Config):
    """Knobs of `daily_with_weekly_features`."""

    available: Literal["same_close", "next_session"] = Field(
        default="same_close",
        description="same_close: a row carries the week ending at or before its date (Friday "
        "rows carry their own week); next_session: only weeks ending before its date. Use "
        "next_session when a target ends at the row's close.",
    )
    max_age_days: int | None = Field(
        default=None,
        ge=0,
        description="A row carries no week that ended more than this many days before it "
        "(null: no limit beyond the calendar's; a week is at most 13 days old on NYSE sessions).",
    )
