"""`StepFigures`: a step's memory and time figures, and the `memwise/...` metadata that holds them.

The figures are a contract between the writer (the IO manager records them once per step,
on the step's last partition), the calibration and the adaptive timeouts (which learn from
them) and the report (which draws them). This module is the one place that names the keys.

What the Dagster UI shows: it draws one chart per numeric entry, sorted by name. So the
step's memory numbers share the prefix `memwise/memory/` (estimate, increase, limit and
usage sit side by side), the process RSS keeps a chart of its own, and the bulky or rarely
read figures (samples, estimator inputs, cache purge, admission wait) travel in one JSON
entry, `memwise/details`, which plots nothing.

The flat keys of the four grouped figures (`memwise/limit_mb`, `memwise/rss_increase_mb`,
`memwise/estimate_mb`, `memwise/peak_usage_percent`) are a published contract and are still
written beside the grouped ones. Materializations written before the grouping carry the
detail figures flat too (`memwise/samples`, ...): `from_metadata` and `figure` read them, so
history, calibration and the report span both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import dagster as dg

# Plotted, side by side in the UI: the step's memory against its limit.
ESTIMATE_KEY = "memwise/memory/estimate_mb"
INCREASE_KEY = "memwise/memory/increase_mb"
LIMIT_KEY = "memwise/memory/limit_mb"
USAGE_KEY = "memwise/memory/usage_percent"
# Plotted on their own.
PEAK_KEY = "memwise/peak_rss_mb"  # the whole process at the step's peak, not the step's share
INPUT_KEY = "memwise/input_mb"
SECONDS_KEY = "memwise/seconds"
TIMEOUT_KEY = "memwise/timeout_s"
BLOCKS_KEY = "memwise/blocks"
BLOCK_ROWS_KEY = "memwise/block_rows"
# Not plotted (text, flags, JSON).
WITHIN_KEY = "memwise/within_limit"
ESTIMATOR_KEY = "memwise/estimator"
TIMEOUT_BASIS_KEY = "memwise/timeout_basis"
BUDGET_REASON_KEY = "memwise/budget_reason"
STEP_KEY = "memwise/step"
HOST_KEY = "memwise/host"
BLOCK_PLAN_KEY = "memwise/block_plan"
DETAILS_KEY = "memwise/details"
# On the AssetObservation of a step that failed over its budget (its peak is history too).
FAILED_KEY = "memwise/failed"

# The flat keys the memory figures had before they were grouped, by the grouped key. They are
# a published contract (notebooks, dashboards and checks read them), so every step still writes
# them beside the grouped ones; readers inside memwise go through `figure` / `from_metadata`.
OLD_KEYS: Mapping[str, str] = {
    ESTIMATE_KEY: "memwise/estimate_mb",
    INCREASE_KEY: "memwise/rss_increase_mb",
    LIMIT_KEY: "memwise/limit_mb",
    USAGE_KEY: "memwise/peak_usage_percent",
}
# Figures now inside `memwise/details`, and the flat keys older events hold them under.
DETAIL_FIELDS = (
    "admission_wait_s",
    "sample_count",
    "peak_source",
    "cache_files_removed",
    "cache_mb_freed",
    "estimator_inputs",
    "timeout_inputs",
    "samples",
)


@dataclass(frozen=True, kw_only=True)
class StepFigures:
    """One step's memory and time figures, as recorded on its materialization."""

    # Written for every step; the optional ones only when the step has them.
    REQUIRED_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            ESTIMATE_KEY, INCREASE_KEY, LIMIT_KEY, USAGE_KEY, PEAK_KEY, INPUT_KEY, SECONDS_KEY,
            WITHIN_KEY, ESTIMATOR_KEY, DETAILS_KEY, *OLD_KEYS.values(),
        }
    )  # fmt: skip
    OPTIONAL_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            TIMEOUT_KEY, TIMEOUT_BASIS_KEY, BUDGET_REASON_KEY, STEP_KEY, BLOCKS_KEY,
            BLOCK_ROWS_KEY, BLOCK_PLAN_KEY, HOST_KEY,
        }
    )  # fmt: skip

    peak_rss_mb: float
    rss_increase_mb: float
    limit_mb: float
    estimate_mb: float
    estimator: str
    input_mb: float
    seconds: float
    within_limit: bool = True
    peak_usage_percent: float = 0.0
    # Written inside `memwise/details` (DETAIL_FIELDS), with timeout_inputs further down.
    admission_wait_s: float = 0.0
    sample_count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    peak_source: str = ""
    cache_files_removed: int = 0
    cache_mb_freed: float = 0.0
    estimator_inputs: dict[str, Any] = field(default_factory=dict)
    # Recorded once steps have enforced timeouts; None / "" in older history.
    timeout_s: float | None = None
    timeout_basis: str = ""
    timeout_inputs: dict[str, Any] = field(default_factory=dict)
    budget_reason: str | None = None  # set when a memory retry raised the budget
    step: str | None = None
    # A step that works in blocks records its plan; a step on a cluster records its host.
    blocks: int | None = None
    block_rows: int | None = None
    block_plan: str | None = None  # why the blocks are this size, in words
    host: str | None = None

    @property
    def headroom_mb(self) -> float:
        """Estimate minus the memory the step really added (negative: under-estimated)."""
        return self.estimate_mb - self.rss_increase_mb

    @property
    def under_estimated(self) -> bool:
        """The step added more memory than the estimate that admitted it."""
        return self.rss_increase_mb > self.estimate_mb

    def to_metadata(self) -> dict[str, Any]:
        """The step's entries on its materialization (optional figures only when set)."""
        # In this order in the UI's table: the step against its limit first, the JSON last.
        metadata: dict[str, Any] = {
            ESTIMATE_KEY: _mb(self.estimate_mb),
            INCREASE_KEY: _mb(self.rss_increase_mb),
            LIMIT_KEY: _mb(self.limit_mb),
            USAGE_KEY: _mb(self.peak_usage_percent),
            PEAK_KEY: _mb(self.peak_rss_mb),
            INPUT_KEY: float(self.input_mb),  # exact: the calibration fits on it
            SECONDS_KEY: float(self.seconds),
            WITHIN_KEY: bool(self.within_limit),
            ESTIMATOR_KEY: str(self.estimator),
        }
        optional: dict[str, Any] = {
            TIMEOUT_KEY: None if self.timeout_s is None else float(self.timeout_s),
            TIMEOUT_BASIS_KEY: self.timeout_basis or None,
            BUDGET_REASON_KEY: self.budget_reason,
            STEP_KEY: self.step,
            BLOCKS_KEY: None if self.blocks is None else int(self.blocks),
            BLOCK_ROWS_KEY: None if self.block_rows is None else int(self.block_rows),
            BLOCK_PLAN_KEY: self.block_plan,
            HOST_KEY: self.host,
        }
        metadata.update({k: v for k, v in optional.items() if v is not None})
        metadata.update({old: metadata[new] for new, old in OLD_KEYS.items()})
        metadata[DETAILS_KEY] = dg.MetadataValue.json(
            {name: _plain(getattr(self, name)) for name in DETAIL_FIELDS}
        )
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> StepFigures | None:
        """The figures a materialization carries (None: it carries none, e.g. not its step's
        last partition). Reads entries as stored (`MetadataValue`s) or as plain values, and
        the flat keys of events written before the grouping."""
        if PEAK_KEY not in metadata:
            return None
        details = figure(metadata, DETAILS_KEY) or {}
        old = {name: figure(metadata, f"memwise/{name}") for name in DETAIL_FIELDS}
        detail = {n: details[n] if n in details else old[n] for n in DETAIL_FIELDS}
        timeout = figure(metadata, TIMEOUT_KEY)
        blocks, block_rows = figure(metadata, BLOCKS_KEY), figure(metadata, BLOCK_ROWS_KEY)
        return cls(
            peak_rss_mb=float(figure(metadata, PEAK_KEY)),
            rss_increase_mb=float(figure(metadata, INCREASE_KEY, 0.0)),
            limit_mb=float(figure(metadata, LIMIT_KEY, float("nan"))),
            estimate_mb=float(figure(metadata, ESTIMATE_KEY, float("nan"))),
            estimator=str(figure(metadata, ESTIMATOR_KEY, "")),
            input_mb=float(figure(metadata, INPUT_KEY, 0.0)),
            seconds=float(figure(metadata, SECONDS_KEY, 0.0)),
            within_limit=bool(figure(metadata, WITHIN_KEY, True)),
            peak_usage_percent=float(figure(metadata, USAGE_KEY, 0.0)),
            admission_wait_s=float(detail["admission_wait_s"] or 0.0),
            sample_count=int(detail["sample_count"] or 0),
            peak_source=str(detail["peak_source"] or ""),
            cache_files_removed=int(detail["cache_files_removed"] or 0),
            cache_mb_freed=float(detail["cache_mb_freed"] or 0.0),
            estimator_inputs=dict(detail["estimator_inputs"] or {}),
            samples=list(detail["samples"] or []),
            timeout_s=None if timeout is None else float(timeout),
            timeout_basis=str(figure(metadata, TIMEOUT_BASIS_KEY, "")),
            timeout_inputs=dict(detail["timeout_inputs"] or {}),
            budget_reason=figure(metadata, BUDGET_REASON_KEY),
            step=figure(metadata, STEP_KEY),
            blocks=None if blocks is None else int(blocks),
            block_rows=None if block_rows is None else int(block_rows),
            block_plan=figure(metadata, BLOCK_PLAN_KEY),
            host=figure(metadata, HOST_KEY),
        )

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain values, by field name."""
        return asdict(self)


# Every key `to_metadata` may write, and the flat keys `from_metadata` still reads.
KEYS: frozenset[str] = StepFigures.REQUIRED_KEYS | StepFigures.OPTIONAL_KEYS
READ_ONLY_KEYS: frozenset[str] = frozenset(f"memwise/{name}" for name in DETAIL_FIELDS)
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StepFigures))


def block_metadata(blocks: int, block_rows: int, plan: str) -> dict[str, Any]:
    """How a step cut its work: blocks, rows of the largest, and why (beside the figures)."""
    return {BLOCKS_KEY: int(blocks), BLOCK_ROWS_KEY: int(block_rows), BLOCK_PLAN_KEY: plan}


def figure(metadata: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """One figure's plain value under `key`, or under the flat key it replaced (old events)."""
    entry = metadata.get(key)
    if entry is None and key in OLD_KEYS:
        entry = metadata.get(OLD_KEYS[key])
    return default if entry is None else getattr(entry, "value", entry)


def _mb(value: float) -> float:
    # A thousandth of a MB is below what RSS sampling resolves; more digits only clutter the UI.
    return round(float(value), 3)


def _plain(value: Any) -> Any:
    # JSON metadata must be plain: numpy scalars and tuples come from the monitor and plans.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value
