"""Self-calibrating memory estimates from what earlier materializations recorded."""

from __future__ import annotations

from typing import Any

import dagster as dg

from memwise_assets.defs.figures import (
    FAILED_KEY,
    INCREASE_KEY,
    INPUT_KEY,
    LIMIT_KEY,
    PEAK_KEY,
    figure,
)
from memwise_assets.memory.calibration import Estimate, calibrated_estimate
from memwise_assets.memory.monitor import MemoryLimitExceeded

# History reads page through the event log; old homes hold one copy per partition.
_PAGE = 500
_MAX_SCANNED = 20_000


__all__ = ["INCREASE_KEY", "INPUT_KEY", "Estimate", "calibrated_estimate", "history_for"]


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
            x, y = figure(meta, input_key), figure(meta, peak_key)
            if x is None or y is None or step in seen:
                continue
            seen.add(step)
            history.append((float(x), float(y)))
            if len(history) == window:
                break
        scanned += len(page.records)
        if not page.has_more:
            break
        cursor = page.cursor
    # Steps that failed over their budget left their figures on an observation: history too.
    for record in instance.fetch_observations(asset_key, limit=window).records:
        meta = record.asset_observation.metadata if record.asset_observation else {}
        x, y = figure(meta, input_key), figure(meta, peak_key)
        if FAILED_KEY in meta and x is not None and y is not None:
            history.append((float(x), float(y)))
    return history


def record_failed_peak(
    context: dg.AssetExecutionContext, metrics: dict[str, Any], failure: BaseException
) -> None:
    """A step that failed over its budget leaves its peak as history: the next estimate grows."""
    if not (isinstance(failure, MemoryLimitExceeded) or not metrics["within_budget"]):
        return
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            metadata={
                INPUT_KEY: metrics["input_mb"],
                INCREASE_KEY: metrics["rss_increase_mb"],
                PEAK_KEY: metrics["peak_memory_mb"],
                LIMIT_KEY: metrics["budget_mb"],
                FAILED_KEY: True,
            },
        )
    )
