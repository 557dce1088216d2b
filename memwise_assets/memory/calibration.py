"""Self-calibrating memory estimates: pure math over recorded (input MB, peak MB) points.

The estimate is an upper prediction bound, not a fit plus a guess:

- size model: log peak = a + b log input (least squares), a power law that holds both
  for steps linear in their input and for chunked ones whose peak saturates;
- per-size-class correction: with 3 or more points of a similar size (within 1.25x)
  the fit is moved to their median residual, so a model that misfits one size class
  does not misfit the step at hand;
- spread: robust (1.4826 x MAD of the log residuals), so one outlier in the window
  neither inflates every later estimate nor is forgotten (see the similar-size max);
- bound: Student-t quantile `quantile` with the leverage of the input's size, so a
  step far outside the sizes seen (a growing backfill) gets the room its uncertainty needs;
- never below the largest peak seen for a similar size, plus 4 MB of headroom (RSS is
  read in pages and allocator arenas; steps of a few MB jitter by that much).

Measured on `memwise bench --case estimator` (README, "Budgets that learn").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

# Similar sizes: within this factor of the input at hand.
_SIMILAR = 1.25
_LOCAL_MIN = 3
_HEADROOM_MB = 4.0
# Peaks and sizes below these are read as these: logs of zero are not figures.
_MIN_MB = 0.5
_MIN_INPUT_MB = 1e-3


@dataclass(frozen=True)
class Estimate:
    """An admission estimate and how it was reached."""

    mb: float
    estimator: str
    inputs: dict[str, Any] = field(default_factory=dict)


def calibrated_estimate(
    *,
    static_mb: float,
    input_mb: float,
    history: Sequence[tuple[float, float]],
    min_history: int = 5,
    quantile: float = 0.99,
) -> Estimate:
    """Static formula until `min_history` points, then an upper prediction bound.

    `history`: (input MB, peak MB above the step's start) pairs, in any order.
    """
    if len(history) < min_history:
        return Estimate(
            mb=static_mb,
            estimator="static",
            inputs={"static_mb": static_mb, "history": len(history)},
        )
    sizes = np.log(np.maximum([h[0] for h in history], _MIN_INPUT_MB))
    peaks = np.maximum([h[1] for h in history], _MIN_MB)
    logs = np.log(peaks)
    at = math.log(max(input_mb, _MIN_INPUT_MB))
    n = len(sizes)
    if np.ptp(sizes) > 1e-6:
        exponent, intercept = (float(v) for v in np.polyfit(sizes, logs, 1))
    else:
        exponent, intercept = 0.0, float(logs.mean())
    residuals = logs - (intercept + exponent * sizes)
    center = float(np.median(residuals))
    spread = 1.4826 * float(np.median(np.abs(residuals - center)))
    similar = np.abs(sizes - at) <= math.log(_SIMILAR)
    local = float(np.median(residuals[similar])) if similar.sum() >= _LOCAL_MIN else center
    sxx = float(((sizes - sizes.mean()) ** 2).sum())
    leverage = (at - sizes.mean()) ** 2 / sxx if sxx > 0 else 0.0
    t = _t_quantile(quantile, max(n - 2, 1))
    typical = math.exp(intercept + exponent * at + local)
    if at > sizes.max():
        # Beyond the sizes seen a power law under-reads a step with a fixed base cost
        # (50 + 4 x MB at 3x the largest input: -11 %); take the straight line if higher.
        slope, base = _affine(history)
        typical = max(typical, (base + slope * input_mb) * math.exp(local))
    bound = typical * math.exp(t * spread * math.sqrt(1 + 1 / n + leverage))
    similar_max = float(peaks[similar].max()) if similar.any() else 0.0
    mb = max(bound, similar_max) + _HEADROOM_MB
    return Estimate(
        mb=round(mb, 3),
        estimator="calibrated",
        inputs={
            "history": n,
            "slope": round(_affine(history)[0], 6),
            "exponent": round(exponent, 4),
            "typical_mb": round(typical, 3),
            "quantile": quantile,
            "spread": round(spread, 4),
            "t": round(t, 3),
            "similar_max_mb": round(similar_max, 3),
            "static_mb": static_mb,
        },
    )


def _affine(history: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(MB per input MB, base MB) of a least-squares line through the history, slope >= 0."""
    sizes = np.array([h[0] for h in history], dtype=np.float64)
    peaks = np.array([h[1] for h in history], dtype=np.float64)
    if np.ptp(sizes) > 0:
        slope, base = (float(v) for v in np.polyfit(sizes, peaks, 1))
        if slope >= 0:
            return slope, base
    return 0.0, float(peaks.mean())


def _t_quantile(q: float, dof: int) -> float:
    """Student-t quantile (Cornish-Fisher expansion; within 1 % for dof >= 3)."""
    z = NormalDist().inv_cdf(q)
    return (
        z
        + (z**3 + z) / (4 * dof)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3)
    )
