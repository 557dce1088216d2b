"""`sec_filing_sections`: one row per Item of each filing, under per-filing admission.

A batch materializes only the filings that succeeded. A Dagster output would materialize
every partition of the run, so the asset has no output: it hands the stored filings to the
IO manager (`ParquetIOManager.store_partitions`, the writer every output goes through) and
reports one `dg.AssetMaterialization` per stored filing, with that filing's own rows, path
and figures, the step's figures on the last. A dead-lettered filing gets
no materialization, so Dagster shows its partition as missing (or failed, when every
filing of the run failed and the run fails) while the rest of its batch is materialized.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from memwise_assets.compute.markdown import md_table
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.filings.checks import FILING_CHECKS, filing_check_results
from memwise_assets.defs.filings.config import FilingsConfig
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.processing import (
    ITEM_INPUT_KEY,
    ITEM_PEAK_KEY,
    FilingOutcome,
    plan_filings,
    run_filings,
)
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.resources import MemoryResource

__all__ = ["BACKFILL_BATCH", "FilingsConfig", "sec_filing_sections"]

# Filings per run of a backfill: big enough to keep workers busy, small enough that a
# failed run re-does little.
BACKFILL_BATCH = 10


@dg.asset(
    group_name="filings",
    partitions_def=filing_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_BATCH),
    check_specs=FILING_CHECKS,
    pool="filings",
    kinds={"pandas", "parquet", "spacy"},
    # Optional: the step reports the filings it stored, never a whole-run output.
    output_required=False,
    metadata=column_metadata("sec_filing_sections"),
)
def sec_filing_sections(
    context: dg.AssetExecutionContext,
    config: FilingsConfig,
    memory: MemoryResource,
    filings: FilingsResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckResult]:
    """One cleaned row per Item (10-K / 10-Q) of each filing dropped in the landing folder."""
    keys = list(context.partition_keys)
    # One event-log read for the whole batch: every filing's estimate fits the same history.
    history = memory.history(
        context.instance, context.asset_key, input_key=ITEM_INPUT_KEY, peak_key=ITEM_PEAK_KEY
    )
    plan = plan_filings(
        keys,
        landing=filings.landing,
        memory=memory,
        config=config,
        asset_key=context.asset_key,
        history=history,
    )
    # Each filing holds its own reservation while a worker parses it; the step itself only
    # coordinates, so its monitor and estimate cover this process, not the workers.
    with memory.step(
        context,
        budget="filings",
        input_mb=plan.input_mb,
        static_estimate_mb=64,
        include_children=False,
    ) as step:
        outcomes = run_filings(context, memory, filings, plan, step, form=config.form)
        good = [o for o in outcomes if o.frame is not None]
        dead = [o for o in outcomes if o.frame is None]
        for outcome in dead:
            context.log.error(f"{outcome.key} -> dead letter ({outcome.status}): {outcome.reason}")
        if not good:
            raise dg.Failure(
                description=f"every filing of this run failed ({len(dead)}); they are in the "
                "dead-letter store for retry_dead_letters",
                metadata={"filings": dg.MetadataValue.md(_table(outcomes))},
                allow_retries=False,
            )
        frames = {o.key: o.frame for o in good if o.frame is not None}
        # Failed filings are not written: their previous sections stay stored. The IO
        # manager writes the others as it writes any output, with the step's figures on the
        # last one, inside the step.
        stored = io_manager.store_partitions(
            step,
            context.run_id,
            context.asset_key,
            frames,
            step_metadata=_batch_metadata(outcomes, sum(o.items for o in good)),
        )
        # Checks run inside the step's reservation and monitor, like the parsing.
        checks = list(
            filing_check_results(frames, {o.key: f"{o.status}: {o.reason}" for o in dead})
        )
    for outcome in good:
        yield dg.AssetMaterialization(
            asset_key=context.asset_key,
            partition=outcome.key,
            metadata={**stored[outcome.key], **_filing_metadata(outcome)},
        )
    yield from checks


def _filing_metadata(outcome: FilingOutcome) -> dict[str, Any]:
    """What one filing's materialization says about that filing alone."""
    return {
        "memwise/items": outcome.items,
        "memwise/category": outcome.category,
        "memwise/runner": outcome.runner,
        # The filing's own timeout; memwise/timeout_s is the step's (on the step's figures).
        "memwise/item_timeout_s": float(outcome.timeout_s),
        "memwise/item_estimate_mb": float(round(outcome.estimate_mb, 3)),
        "memwise/item_cap_mb": float(round(outcome.cap_mb, 3)),
        "memwise/item_estimator": outcome.estimator,
        "memwise/item_seconds": float(round(outcome.seconds, 3)),
        # The per-filing points the calibrated estimator learns from.
        ITEM_INPUT_KEY: float(outcome.size_mb),
        ITEM_PEAK_KEY: float(outcome.peak_mb),
    }


def _batch_metadata(outcomes: list[FilingOutcome], rows: int) -> dict[str, object]:
    dead = [o.key for o in outcomes if o.frame is None]
    return {
        "memwise/filings": len(outcomes),
        "memwise/items_found": rows,
        "memwise/dead_letters": len(dead),
        "memwise/dead_letter_filings": ", ".join(dead) or "none",
        "memwise/filing_outcomes": dg.MetadataValue.md(_table(outcomes)),
    }


def _outcome_row(outcome: FilingOutcome) -> dict[str, object]:
    return {
        "filing": outcome.key,
        "status": outcome.status,
        "category": outcome.category,
        "size_mb": round(outcome.size_mb, 3),
        "estimate_mb": round(outcome.estimate_mb, 1),
        "cap_mb": round(outcome.cap_mb, 1),
        "estimator": outcome.estimator,
        "timeout_s": outcome.timeout_s,
        "peak_mb": round(outcome.peak_mb, 1),
        "seconds": round(outcome.seconds, 3),
        "items": outcome.items,
        "reason": outcome.reason or "",
    }


def _table(outcomes: list[FilingOutcome]) -> str:
    return md_table([_outcome_row(o) for o in outcomes])
