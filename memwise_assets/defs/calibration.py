"""Self-calibrating memory estimates from what earlier materializations recorded."""

from __future__ import annotations

import dagster as dg

from memwise_assets.memory.calibration import Estimate, calibrated_estimate

INPUT_KEY = "memwise/input_mb"
INCREASE_KEY = "memwise/rss_increase_mb"
__all__ = ["INCREASE_KEY", "INPUT_KEY", "Estimate", "calibrated_estimate", "history_for"]


def history_for(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    window: int,
    input_key: str = INPUT_KEY,
    peak_key: str = INCREASE_KEY,
) -> list[tuple[float, float]]:
    """(input MB, peak MB) pairs that the asset's latest materializations recorded."""
    records = instance.fetch_materializations(asset_key, limit=window).records
    history = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        meta = materialization.metadata
        if input_key in meta and peak_key in meta:
            history.append((float(meta[input_key].value), float(meta[peak_key].value)))
    return history
