"""Read what memwise recorded from a Dagster instance: per-asset steps, runs, ledger history."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.memory.ledger import DB_NAME, MemoryLedger
from memwise_assets.report.checks import CheckResult, run_checks

_log = logging.getLogger(__name__)

PEAK_KEY = "memwise/peak_rss_mb"
# Events fetched per page: a single-run backfill writes one materialization per partition.
_PAGE = 1000


class ReportError(ValueError):
    """The instance holds nothing a memory report can be built from."""


@dataclass(frozen=True)
class StepFigures:
    """One step's memory figures for one asset in one run (all its partitions together)."""

    asset: str
    run_id: str
    step_key: str
    timestamp: float
    partitions: int
    rows: int | None
    peak_rss_mb: float
    rss_increase_mb: float
    limit_mb: float
    estimate_mb: float
    estimator: str
    input_mb: float
    seconds: float
    within_limit: bool
    peak_usage_percent: float
    admission_wait_s: float
    cache_files_removed: int
    cache_mb_freed: float
    samples: list[dict[str, Any]] = field(default_factory=list)
    # Recorded once steps have enforced timeouts; None / "" in older history.
    timeout_s: float | None = None
    timeout_basis: str = ""

    @property
    def headroom_mb(self) -> float:
        """Estimate minus the memory the step really added (negative: under-estimated)."""
        return self.estimate_mb - self.rss_increase_mb

    @property
    def under_estimated(self) -> bool:
        """The step added more memory than the estimate that admitted it."""
        return self.rss_increase_mb > self.estimate_mb


@dataclass(frozen=True)
class RunFigures:
    """One run: its status, times and the memwise steps it materialized."""

    run_id: str
    job_name: str
    status: str
    start: float | None
    end: float | None
    steps: list[StepFigures]


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, oldest first within each list."""

    home: Path
    assets: dict[str, list[StepFigures]]
    runs: list[RunFigures]
    ledger: list[dict[str, Any]]
    ledger_path: Path | None
    # Asset check evaluations per run id, for every run the report shows a step of.
    checks: dict[str, list[CheckResult]] = field(default_factory=dict)


def _value(metadata: Mapping[str, Any], key: str, default: Any = None) -> Any:
    entry = metadata.get(key)
    return default if entry is None else getattr(entry, "value", entry)


def step_figures(
    records: Iterable[dg.EventLogRecord],
) -> dict[tuple[str, str, str], StepFigures]:
    """Collapse materialization records into one StepFigures per (run, step, asset).

    A step's memory figures sit on one of its partitions' materializations, or are copied onto
    all of them (older history). When copied, `dagster/row_count` is the step's total too;
    otherwise each partition counts its own rows and the step's rows are their sum.
    """
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None:
            step = record.event_log_entry.step_key or ""
            key = (record.run_id, step, materialization.asset_key.to_user_string())
            groups.setdefault(key, []).append(record)
    found: dict[tuple[str, str, str], StepFigures] = {}
    for key, group in groups.items():
        carrying = [r for r in group if PEAK_KEY in r.asset_materialization.metadata]
        if not carrying:
            continue
        record = carrying[0]
        materialization = record.asset_materialization
        meta = materialization.metadata
        counts = [_value(r.asset_materialization.metadata, "dagster/row_count") for r in group]
        if len(carrying) == len(group):
            rows = counts[group.index(record)]
        else:
            rows = sum(int(c) for c in counts if c is not None) if any(counts) else None
        timeout = _value(meta, "memwise/timeout_s")
        found[key] = StepFigures(
            asset=materialization.asset_key.to_user_string(),
            run_id=record.run_id,
            step_key=key[1],
            timestamp=float(record.timestamp),
            partitions=len(group),
            rows=None if rows is None else int(rows),
            peak_rss_mb=float(_value(meta, PEAK_KEY)),
            rss_increase_mb=float(_value(meta, "memwise/rss_increase_mb", 0.0)),
            limit_mb=float(_value(meta, "memwise/limit_mb", float("nan"))),
            estimate_mb=float(_value(meta, "memwise/estimate_mb", float("nan"))),
            estimator=str(_value(meta, "memwise/estimator", "")),
            input_mb=float(_value(meta, "memwise/input_mb", 0.0)),
            seconds=float(_value(meta, "memwise/seconds", 0.0)),
            within_limit=bool(_value(meta, "memwise/within_limit", True)),
            peak_usage_percent=float(_value(meta, "memwise/peak_usage_percent", 0.0)),
            admission_wait_s=float(_value(meta, "memwise/admission_wait_s", 0.0)),
            cache_files_removed=int(_value(meta, "memwise/cache_files_removed", 0)),
            cache_mb_freed=float(_value(meta, "memwise/cache_mb_freed", 0.0)),
            samples=list(_value(meta, "memwise/samples", []) or []),
            timeout_s=None if timeout is None else float(timeout),
            timeout_basis=str(_value(meta, "memwise/timeout_basis", "")),
        )
    return found


def asset_history(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> list[StepFigures]:
    """The asset's last `limit` steps with memwise figures, oldest first."""
    by_step: dict[tuple[str, str], list[dg.EventLogRecord]] = {}
    cursor: str | None = None
    while True:
        page = instance.fetch_materializations(key, limit=_PAGE, cursor=cursor)
        for record in page.records:
            step = (record.run_id, record.event_log_entry.step_key or "")
            if step not in by_step and len(by_step) == limit:
                # Newest first: a step beyond the limit means every kept step is complete.
                return sorted(step_figures(_flat(by_step)).values(), key=lambda f: f.timestamp)
            by_step.setdefault(step, []).append(record)
        if not page.has_more:
            break
        cursor = page.cursor
    return sorted(step_figures(_flat(by_step)).values(), key=lambda f: f.timestamp)


def _flat(groups: Mapping[Any, list[dg.EventLogRecord]]) -> list[dg.EventLogRecord]:
    return [record for records in groups.values() for record in records]


def run_history(instance: dg.DagsterInstance, limit: int) -> list[RunFigures]:
    """The last `limit` runs with the memwise steps each materialized, oldest first."""
    runs = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        events = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        steps = sorted(step_figures(events).values(), key=lambda f: f.timestamp)
        start = record.start_time or record.create_timestamp.timestamp()
        runs.append(
            RunFigures(
                run_id=run.run_id,
                job_name=run.job_name,
                status=run.status.value,
                start=start,
                end=record.end_time,
                steps=steps,
            )
        )
    return sorted(runs, key=lambda r: r.start or 0.0)


def ledger_history(memwise_dir: Path) -> tuple[list[dict[str, Any]], Path | None]:
    """The ledger's admit/release events (empty when there is no ledger or it cannot be read)."""
    folder = memwise_dir / "ledger"
    if not (folder / DB_NAME).is_file():
        return [], None
    try:
        return MemoryLedger(folder).history(), folder / DB_NAME
    except Exception as exc:  # a damaged ledger must not cost the user the rest of the report
        _log.warning("cannot read the memory ledger at %s: %s", folder, exc)
        return [], folder / DB_NAME


def collect(
    instance: dg.DagsterInstance, limit: int = 20, memwise_dir: Path | None = None
) -> ReportData:
    """Everything the report shows; raises ReportError when nothing was materialized."""
    if limit < 1:
        raise ValueError(f"limit must be a positive number of materializations; got {limit!r}")
    home = Path(instance.root_directory)
    assets = {}
    for key in sorted(instance.get_asset_keys(), key=lambda k: k.to_user_string()):
        history = asset_history(instance, key, limit)
        if history:
            assets[key.to_user_string()] = history
    if not assets:
        raise ReportError(
            f"no materializations with memwise memory figures in the Dagster home {home}; "
            "run `memwise demo` first"
        )
    ledger, ledger_path = ledger_history(memwise_dir or home / "memwise")
    runs = run_history(instance, limit)
    run_ids = {r.run_id for r in runs} | {s.run_id for steps in assets.values() for s in steps}
    return ReportData(
        home=home,
        assets=assets,
        runs=runs,
        ledger=ledger,
        ledger_path=ledger_path,
        checks={run_id: run_checks(instance, run_id) for run_id in sorted(run_ids)},
    )
