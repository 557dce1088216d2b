"""Self-calibrating memory estimates from what earlier materializations recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np

INPUT_KEY = "memwise/input_mb"
INCREASE_KEY = "memwise/rss_increase_mb"
# On an AssetObservation of a step that failed over its budget (its peak is history too).
FAILED_KEY = "memwise/failed"
# Similar sizes: within this factor of the input at hand.
_SIMILAR = 1.25
# Never reserve less than this: imports, Arrow buffers and the monitor itself cost something.
_FLOOR_MB = 32.0
# History reads page through the event log; old homes hold one copy per partition.
_PAGE = 500
_MAX_SCANNED = 20_000


@dataclass(frozen=True)
class Estimate:
    """An admission estimate and how it was reached."""

    mb: float
    estimator: str
    inputs: dict[str, Any] = field(default_factory=dict)


def history_for(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    window: int,
    input_key: str = INPUT_KEY,
    peak_key: str = INCREASE_KEY,
) -> list[tuple[float, float]]:
    """(input MB, peak MB) of the asset's latest `window` steps: one point per (run, step).

    A step records its figures once (on one partition), but homes written before that
    carry a copy on every partition of a backfill: reading keeps the first record of each
    (run, step), so old copies count once, and pages on until `window` steps are found.
    """
    history: list[tuple[float, float]] = []
    seen: set[tuple[str, str]] = set()
    cursor = None
    scanned = 0
    while len(history) < window and scanned < _MAX_SCANNED:
        page = instance.fetch_materializations(asset_key, limit=_PAGE, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            meta = materialization.metadata if materialization is not None else {}
            # Runless events (reported from outside a run) are each their own point.
            step = (record.run_id, record.event_log_entry.step_key or str(record.storage_id))
            if input_key not in meta or peak_key not in meta or step in seen:
                continue
            seen.add(step)
            history.append((float(meta[input_key].value), float(meta[peak_key].value)))
            if len(history) == window:
                break
        scanned += len(page.records)
        if not page.has_more:
            break
        cursor = page.cursor
    # Steps that failed over their budget left their figures on an observation: history too.
    for record in instance.fetch_observations(asset_key, limit=window).records:
        meta = record.asset_observation.metadata if record.asset_observation else {}
        if FAILED_KEY in meta and input_key in meta and peak_key in meta:
            history.append((float(meta[input_key].value), float(meta[peak_key].value)))
    return history


def calibrated_estimate(
    *,
    static_mb: float,
    input_mb: float,
    history: list[tuple[float, float]],
    min_history: int = 5,
    quantile: float = 0.95,
) -> Estimate:
    """Static formula until `min_history` points, then an upper-quantile linear fit.

    The fit is least squares of peak increase on input size, lifted by the `quantile` of
    its residuals so most past steps would have fitted, and never below the largest
    increase seen for similar input sizes.
    """
    if len(history) < min_history:
        return Estimate(
            mb=max(static_mb, _FLOOR_MB),
            estimator="static",
            inputs={"static_mb": static_mb, "history": len(history)},
        )
    sizes = np.array([h[0] for h in history], dtype=np.float64)
    peaks = np.array([h[1] for h in history], dtype=np.float64)
    if np.ptp(sizes) > 0:
        slope, intercept = np.polyfit(sizes, peaks, 1)
        slope = max(float(slope), 0.0)
    else:
        slope, intercept = 0.0, float(peaks.mean())
    residuals = peaks - (intercept + slope * sizes)
    lift = float(np.quantile(residuals, quantile))
    fitted = intercept + slope * input_mb + max(lift, 0.0)
    similar = peaks[(sizes <= input_mb * _SIMILAR) & (sizes >= input_mb / _SIMILAR)]
    observed_max = float(similar.max()) if similar.size else 0.0
    mb = max(fitted, observed_max, _FLOOR_MB)
    return Estimate(
        mb=round(mb, 3),
        estimator="calibrated",
        inputs={
            "history": len(history),
            "slope": round(slope, 6),
            "intercept_mb": round(float(intercept), 3),
            "quantile": quantile,
            "lift_mb": round(lift, 3),
            "similar_max_mb": round(observed_max, 3),
            "static_mb": static_mb,
        },
    )
