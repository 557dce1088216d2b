"""Step limits that learn: the timeout of a step and the budget of a memory retry.

Pure functions of configuration and recorded history, framework-free, so the Dagster
layer, the bench and the tests all compute the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TimeoutChoice:
    """A step's timeout and where it came from: static, adaptive or override."""

    seconds: float
    basis: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The basis with its figures, as failures and logs state it."""
        if self.basis == "adaptive":
            i = self.inputs
            return (
                f"adaptive over {i['history']} recorded runs: max(floor {i['floor_s']:g} s, "
                f"{i['k']:g} x median {i['median_s']:.2f} s, p99 {i['p99_s']:.2f} s x "
                f"{i['margin']:g})"
            )
        if self.basis == "override":
            return f"override ({self.inputs.get('source', '?')})"
        return f"static ({self.inputs.get('budget', '?')} budget default)"


def choose_timeout(
    *,
    static_s: float,
    seconds_history: Sequence[float],
    override_s: float | None = None,
    override_source: str = "",
    floor_s: float = 60.0,
    k: float = 3.0,
    margin: float = 1.5,
    min_history: int = 5,
    budget: str = "",
) -> TimeoutChoice:
    """The timeout of one step: an override wins, then history, then the static default.

    Adaptive: max(floor_s, k x median of recorded seconds, p99 x margin), so a step
    that slows down a little keeps room and one that hangs is stopped long before the
    static default would.
    """
    if override_s is not None:
        if not override_s > 0:
            raise ValueError(
                f"timeout override from {override_source} must be > 0 s; got {override_s}"
            )
        return TimeoutChoice(float(override_s), "override", {"source": override_source})
    seconds = np.asarray([s for s in seconds_history if s >= 0], dtype=np.float64)
    if seconds.size < min_history:
        return TimeoutChoice(
            float(static_s), "static", {"budget": budget, "history": int(seconds.size)}
        )
    median = float(np.median(seconds))
    p99 = float(np.quantile(seconds, 0.99))
    value = max(floor_s, k * median, p99 * margin)
    return TimeoutChoice(
        round(value, 3),
        "adaptive",
        {
            "history": int(seconds.size),
            "floor_s": floor_s,
            "k": k,
            "median_s": round(median, 3),
            "p99_s": round(p99, 3),
            "margin": margin,
        },
    )


def raised_budget_mb(peak_mb: float, *, headroom_mb: float = 100.0, factor: float = 1.5) -> float:
    """The budget of a retry after `MemoryLimitExceeded`: max(peak + headroom, factor x peak).

    The Kubernetes VPA bumps after an OOM to max(used + 100 MiB, 1.2 x used); 1.5 here
    because the monitor stops a step at its emergency line, before it reached its need.
    """
    return round(max(peak_mb + headroom_mb, factor * peak_mb), 3)
