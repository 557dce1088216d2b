"""One step's figures in one run, read from the Dagster home's event log.

Works with the stored layouts of both designs: `memwise/path` may name a Parquet file or a
folder of them, and the block plan (`memwise/blocks`, `memwise/block_rows`) is shown as "-"
where a step does not record one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.bench.harness import BenchRow
from memwise_assets.defs.figures import StepFigures as RecordedFigures

_STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.STEP_RESTARTED,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}
# The warning `step_limits.failure_for` logs before a memory retry.
_RETRY_WARNING = re.compile(r"passed its (\d+) MB budget \((\d+) MB used\); retrying with (\d+) MB")


@dataclass
class StepFigures:
    """What the event log says about one step of one run."""

    step: str
    status: str = "ok"
    rows: int = 0
    seconds: float = 0.0
    rss_increase_mb: float | None = None
    limit_mb: float | None = None
    peak_rss_mb: float | None = None
    within_limit: bool | None = None
    blocks: Any = None
    block_rows: Any = None
    block_plan: Any = None
    attempts: int = 0
    memory_retries: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def row(self, case: str, extra: dict[str, Any]) -> BenchRow:
        """The step as a bench row: items are rows, peak is the RSS increase."""
        detail = {
            "kind": "step",
            "status": self.status,
            "rows": self.rows,
            "step_s": self.seconds,
            "rss_increase_mb": self.rss_increase_mb,
            "limit_mb": self.limit_mb,
            "peak_rss_mb": self.peak_rss_mb,
            "within_limit": self.within_limit,
            "blocks": self.blocks,
            "block_rows": self.block_rows,
            "block_plan": self.block_plan,
            "attempts": self.attempts,
            "memory_retries": self.memory_retries,
            "files": len(self.files),
            **extra,
        }
        note = self.status if not self.ok else "; ".join(self.memory_retries)
        return BenchRow(
            case, self.step, float(self.rows), "rows", self.seconds,
            float(self.rss_increase_mb or 0.0), note, detail,
        )  # fmt: skip


def stored_files(path: str) -> list[Path]:
    """The Parquet files a `memwise/path` names: the file, or every file in the folder."""
    found = Path(path)
    if found.is_dir():
        return sorted(p for p in found.rglob("*.parquet") if not p.name.startswith("."))
    return [found] if found.is_file() else []


def _value(metadata: dict[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def _failure_message(event: dg.DagsterEvent) -> str:
    error = getattr(event.event_specific_data, "error", None)
    # The innermost cause says what went wrong; the outer ones where Dagster caught it.
    while error is not None and error.cause is not None:
        error = error.cause
    text = (error.message if error is not None else event.message) or "no message"
    return text.strip().splitlines()[0]


def step_figures(instance: dg.DagsterInstance, run_id: str, step: str) -> StepFigures:
    """The figures of `step` (an asset's step key) in run `run_id`."""
    figures = StepFigures(step=step)
    started = ended = None
    step_meta: dict[str, Any] = {}
    rows = 0
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            if entry.step_key == step and (match := _RETRY_WARNING.search(entry.user_message)):
                used, limit, raised = match.group(2), match.group(1), match.group(3)
                figures.memory_retries.append(f"{used} MB of {limit} MB, retried with {raised} MB")
            continue
        if event.step_key != step or event.event_type not in _STEP_EVENTS:
            continue
        kind = event.event_type
        if kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_RESTARTED):
            # A retried attempt starts with STEP_RESTARTED, not STEP_START.
            started = started if started is not None else entry.timestamp
            figures.attempts += 1
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ended = entry.timestamp
            if kind == dg.DagsterEventType.STEP_FAILURE:
                figures.status = f"failed: {_failure_message(event)}"
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = entry.asset_materialization.metadata
            rows += int(_value(metadata, "dagster/row_count") or 0)
            if (path := _value(metadata, "memwise/path")) is not None:
                figures.files.extend(stored_files(str(path)))
            if RecordedFigures.from_metadata(metadata) is not None:
                step_meta = metadata
    if started is None:
        figures.status = "not run"
    elif ended is None and figures.ok:
        figures.status = "failed: the step never finished"
    figures.seconds = (ended or started or 0.0) - (started or 0.0)
    figures.files = list(dict.fromkeys(figures.files))  # partitions may share one folder
    figures.rows = int(_value(step_meta, "memwise/step_rows") or rows)
    recorded = RecordedFigures.from_metadata(step_meta)
    if recorded is not None:
        figures.rss_increase_mb = recorded.rss_increase_mb
        figures.limit_mb = recorded.limit_mb
        figures.peak_rss_mb = recorded.peak_rss_mb
        figures.within_limit = recorded.within_limit
        figures.blocks, figures.block_rows = recorded.blocks, recorded.block_rows
        figures.block_plan = recorded.block_plan
    return figures
