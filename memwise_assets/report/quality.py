"""How well the estimates that admitted steps matched the memory the steps really added."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memwise_assets.report.collect import StepRecord


@dataclass(frozen=True)
class EstimateQuality:
    """Headroom (estimate - actual RSS increase) and under-estimates over some steps."""

    label: str
    steps: int
    under_estimated: int
    median_headroom_mb: float
    min_headroom_mb: float
    median_ratio: float

    @property
    def under_share_percent(self) -> float:
        """Share of steps that added more memory than their estimate, in percent."""
        return 100.0 * self.under_estimated / self.steps if self.steps else 0.0


def quality(label: str, steps: Sequence[StepRecord]) -> EstimateQuality:
    """Estimate quality over `steps` (steps without an estimate are left out)."""
    estimate = np.array([s.estimate_mb for s in steps], dtype=np.float64)
    actual = np.array([s.rss_increase_mb for s in steps], dtype=np.float64)
    known = np.isfinite(estimate)
    estimate, actual = estimate[known], actual[known]
    if estimate.size == 0:
        return EstimateQuality(label, 0, 0, float("nan"), float("nan"), float("nan"))
    headroom = estimate - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(estimate > 0, actual / estimate, np.nan)
    return EstimateQuality(
        label=label,
        steps=int(estimate.size),
        under_estimated=int(np.count_nonzero(actual > estimate)),
        median_headroom_mb=float(np.median(headroom)),
        min_headroom_mb=float(headroom.min()),
        median_ratio=float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan"),
    )


def quality_by_asset(assets: Mapping[str, Sequence[StepRecord]]) -> list[EstimateQuality]:
    """One row per asset, then the row of all assets together (label "all assets")."""
    rows = [quality(asset, steps) for asset, steps in assets.items()]
    every = [s for steps in assets.values() for s in steps]
    return [*rows, quality("all assets", every)]
