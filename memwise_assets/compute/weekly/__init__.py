"""Weekly (W-FRI) bars and features of many symbols, and their attachment to daily rows
without look-ahead."""

from memwise_assets.compute.weekly.features import (
    BAR_COLUMNS,
    FEATURE_COLUMNS,
    attach_weekly_features,
    features_from_weekly_bars,
    weekly_bars,
    weekly_features,
)

__all__ = [
    "BAR_COLUMNS",
    "FEATURE_COLUMNS",
    "attach_weekly_features",
    "features_from_weekly_bars",
    "weekly_bars",
    "weekly_features",
]
