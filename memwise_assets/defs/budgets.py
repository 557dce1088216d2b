"""The memory budgets, in one typed table: limit, static estimate, timeout, pool, pod sizing.

Assets name a budget (`memory.step(context, budget="prices")`); everything else about it
(its default limit, the static estimate used until calibration has history, the default
step timeout, the Dagster concurrency pool and whether its step gets a pod of its own on
k8s) is read from here, so a new budget is one row and an unknown one is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

# One megabyte, for every MB figure memwise records (binary, as RSS and file sizes are).
MB = 1024.0 * 1024.0


@dataclass(frozen=True)
class Budget:
    """One memory budget and the defaults that go with it."""

    name: str
    limit_mb: float  # memory a step may add above its start RSS (MemoryResource.limits_mb)
    base_mb: float  # static estimate = base_mb + per_input_mb x input MB
    per_input_mb: float
    timeout_s: float  # default wall-clock limit of one step of this budget
    pool: str | None  # Dagster concurrency pool of its steps (None: no pool)
    own_pod: bool  # on k8s its steps get a memory request of their own

    def static_estimate(self, input_mb: float) -> float:
        """The size formula used before the calibrated estimator has enough history."""
        return self.base_mb + self.per_input_mb * max(float(input_mb), 0.0)

    def configured(
        self, limits_mb: Mapping[str, float], step_timeouts_s: Mapping[str, float]
    ) -> Budget:
        """This budget with a deployment's limit and static timeout (its defaults if unset)."""
        return replace(
            self,
            limit_mb=float(limits_mb.get(self.name, self.limit_mb)),
            timeout_s=float(
                step_timeouts_s.get(self.name, step_timeouts_s.get("default", self.timeout_s))
            ),
        )


@dataclass(frozen=True)
class TimeoutPolicy:
    """How a step's timeout adapts to its recorded seconds (`memory/limits.choose_timeout`)."""

    floor_s: float
    k: float
    margin: float
    window: int  # recorded steps read
    min_history: int  # steps needed before the timeout adapts
    grace_s: float  # past the deadline, a step in a process of its own is killed after this


@dataclass(frozen=True)
class RetryPolicy:
    """How a step that passed its memory budget is retried: raised budget, how many times."""

    max_retries: int
    headroom_mb: float
    factor: float


BUDGETS: Mapping[str, Budget] = MappingProxyType(
    {
        b.name: b
        for b in (
            # Long float64 frames: a fetch holds the source's and the assembled copies.
            Budget("prices", 500.0, 100.0, 4.0, 600.0, "prices", True),
            # The vectorised weekly pass keeps a few sorted copies of its input.
            Budget("weekly", 2048.0, 64.0, 3.0, 1200.0, None, True),
            # Chunked labelling: the input and its sorted copy; callers add the chunk.
            Budget("labels", 8192.0, 64.0, 2.0, 2400.0, "labels", True),
            # The filings step only coordinates: each filing holds its own reservation.
            Budget("filings", 4096.0, 64.0, 0.0, 2400.0, "filings", True),
            # Filing text features and their daily join: word counts beside the sections.
            Budget("filing_features", 1024.0, 64.0, 3.0, 1200.0, None, False),
            # The EDGAR download streams each document to disk; JSON listings (capped at
            # 64 MB) are what it holds. Its pool is the job's own ("edgar", limit 1).
            Budget("edgar", 512.0, 256.0, 0.0, 3600.0, None, False),
            Budget("default", 1024.0, 64.0, 2.0, 600.0, None, False),
        )
    }
)

# Per-filing static estimate (12 x file MB + 500 MB): spaCy and the section frames.
FILING_ITEM_BASE_MB = 500.0
FILING_ITEM_PER_INPUT_MB = 12.0


def budget_named(name: str) -> Budget:
    """The budget called `name`; an unknown name is an error naming the known ones."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise ValueError(
            f"unknown memory budget {name!r}; expected one of {', '.join(sorted(BUDGETS))}"
        ) from None


def default_limits_mb() -> dict[str, float]:
    """Each budget's default limit in MB (the seed of `MemoryResource.limits_mb`)."""
    return {b.name: b.limit_mb for b in BUDGETS.values()}


def default_step_timeouts_s() -> dict[str, float]:
    """Each budget's default step timeout (the seed of `MemoryResource.step_timeouts_s`)."""
    return {b.name: b.timeout_s for b in BUDGETS.values()}
