"""Read what memwise recorded from a Dagster instance: per-asset steps, runs, ledger history."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from memwise_assets.defs.figures import StepFigures, figure
from memwise_assets.memory.ledger import MemoryLedger
from memwise_assets.memory.ledger_file import DB_NAME, default_ledger_dir
from memwise_assets.report.checks import CheckResult, run_checks
from memwise_assets.report.order import graph_order, upstream_by_node

_log = logging.getLogger(__name__)

ROWS_KEY = "dagster/row_count"
# Events fetched per page: a single-run backfill writes one materialization per partition.
_PAGE = 1000


class ReportError(ValueError):
    """The instance holds nothing a memory report can be built from."""


@dataclass(frozen=True, kw_only=True)
class StepRecord(StepFigures):
    """One step's figures for one asset in one run (all its partitions together)."""

    asset: str
    run_id: str
    step_key: str
    timestamp: float
    partitions: int
    rows: int | None


@dataclass(frozen=True)
class RunFigures:
    """One run: its status, times and the memwise steps it materialized."""

    run_id: str
    job_name: str
    status: str
    start: float | None
    end: float | None
    steps: list[StepRecord]


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, oldest first within each list."""

    home: Path
    assets: dict[str, list[StepRecord]]
    runs: list[RunFigures]
    ledger: list[dict[str, Any]]
    ledger_path: Path | None
    # Asset check evaluations per run id, for every run the report shows a step of.
    checks: dict[str, list[CheckResult]] = field(default_factory=dict)


def step_figures(
    records: Iterable[dg.EventLogRecord],
) -> dict[tuple[str, str, str], StepRecord]:
    """Collapse materialization records into one StepRecord per (run, step, asset).

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
    found: dict[tuple[str, str, str], StepRecord] = {}
    for key, group in groups.items():
        carrying = [
            (r, f)
            for r in group
            if (f := StepFigures.from_metadata(r.asset_materialization.metadata)) is not None
        ]
        if not carrying:
            continue
        record, figures = carrying[0]
        counts = [figure(r.asset_materialization.metadata, ROWS_KEY) for r in group]
        if len(carrying) == len(group):
            rows = counts[group.index(record)]
        else:
            rows = sum(int(c) for c in counts if c is not None) if any(counts) else None
        found[key] = StepRecord(
            asset=key[2],
            run_id=record.run_id,
            step_key=key[1],
            timestamp=float(record.timestamp),
            partitions=len(group),
            rows=None if rows is None else int(rows),
            **vars(figures),
        )
    return found


def asset_history(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> list[StepRecord]:
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


def ledger_history(
    memwise_dir: Path, host_fallback: bool = True
) -> tuple[list[dict[str, Any]], Path | None]:
    """The ledger's admit/release events (empty when there is no ledger or it cannot be read)."""
    folder = memwise_dir / "ledger"
    if not (folder / DB_NAME).is_file() and host_fallback:
        folder = default_ledger_dir()  # a home without a private ledger used the host's
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
    """Everything the report shows; raises ReportError when nothing was materialized.

    Assets come in the asset graph's order (upstream first), as the runs' jobs recorded it.
    """
    if limit < 1:
        raise ValueError(f"limit must be a positive number of materializations; got {limit!r}")
    home = Path(instance.root_directory)
    found = {}
    for key in instance.get_asset_keys():
        history = asset_history(instance, key, limit)
        if history:
            found[key.to_user_string()] = history
    if not found:
        raise ReportError(
            f"no materializations with memwise memory figures in the Dagster home {home}; "
            "run `memwise demo` first"
        )
    ledger, ledger_path = ledger_history(
        memwise_dir or home / "memwise", host_fallback=memwise_dir is None
    )
    runs = run_history(instance, limit)
    run_ids = {r.run_id for r in runs} | {s.run_id for steps in found.values() for s in steps}
    upstream = upstream_by_node(instance, sorted(run_ids))
    assets = {name: found[name] for name in graph_order(list(found), upstream)}
    return ReportData(
        home=home,
        assets=assets,
        runs=runs,
        ledger=ledger,
        ledger_path=ledger_path,
        checks={run_id: run_checks(instance, run_id) for run_id in sorted(run_ids)},
    )
