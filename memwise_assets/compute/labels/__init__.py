"""Weighted triple-barrier labels: the config, the volatility, the barrier paths
and the weights."""

from memwise_assets.compute.labels.triple_barrier import (
    LabelingConfig,
    LabelMode,
    ewm_vol,
    refuse_long_horizons,
    triple_barrier_labels,
)

__all__ = [
    "LabelMode",
    "LabelingConfig",
    "ewm_vol",
    "refuse_long_horizons",
    "triple_barrier_labels",
]
