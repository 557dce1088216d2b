"""`sec_filing_sections`: one row per Item of each filing, under per-filing admission."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field, model_validator

from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.filings.checks import FILING_CHECKS, filing_check_results
from memwise_assets.defs.filings.landing import resolve_filing
from memwise_assets.defs.filings.partitions import filing_partitions
from memwise_assets.defs.filings.processing import FilingOutcome, process_filings
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.markdown import md_table
from memwise_assets.defs.resources import MemoryResource

# Filings per run of a backfill: big enough to keep workers busy, small enough that a
# failed run re-does little.
BACKFILL_BATCH = 10


class FilingsConfig(dg.Config):
    """Per-run knobs of the filings step (retries use the multipliers)."""

    form: str | None = Field(default=None, description="Force the form (10-K / 10-Q).")
    memory_multiplier: float = Field(
        default=1.0, description="Scale every filing's memory estimate and cap (retries: 2)."
    )
    timeout_multiplier: float = Field(
        default=1.0, description="Scale every filing's timeout (retries after a timeout: 2)."
    )
    timeout_overrides_s: dict[str, float] = Field(
        default_factory=dict, description="Timeout in seconds for named filings."
    )
    memory_cap_overrides_mb: dict[str, float] = Field(
        default_factory=dict, description="Memory cap in MB for named filings."
    )

    @model_validator(mode="after")
    def _positive_budgets(self) -> "FilingsConfig":
        for name in ("memory_multiplier", "timeout_multiplier"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a finite number > 0; got {value}")
        for name in ("timeout_overrides_s", "memory_cap_overrides_mb"):
            bad = {k: v for k, v in getattr(self, name).items() if not 0 < v < float("inf")}
            if bad:
                raise ValueError(f"{name} values must be finite numbers > 0; got {bad}")
        return self


def _outcome_row(outcome: FilingOutcome) -> dict[str, object]:
    return {
        "filing": outcome.key,
        "status": outcome.status,
        "category": outcome.category,
        "size_mb": round(outcome.size_mb, 3),
        "estimate_mb": round(outcome.estimate_mb, 1),
        "estimator": outcome.estimator,
        "timeout_s": outcome.timeout_s,
        "peak_mb": round(outcome.peak_mb, 1),
        "seconds": round(outcome.seconds, 3),
        "items": outcome.items,
        "reason": outcome.reason or "",
    }


@dg.asset(
    group_name="filings",
    partitions_def=filing_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_BATCH),
    check_specs=FILING_CHECKS,
    pool="filings",
    kinds={"pandas", "parquet", "spacy"},
    metadata=column_metadata("sec_filing_sections"),
)
def sec_filing_sections(
    context: dg.AssetExecutionContext,
    config: FilingsConfig,
    memory: MemoryResource,
    filings: FilingsResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """One cleaned row per Item (10-K / 10-Q) of each filing dropped in the landing folder."""
    keys = list(context.partition_keys)
    input_mb = landed_mb(filings.landing, keys)
    # Each filing holds its own reservation while a worker parses it; the step itself only
    # coordinates, so its monitor and estimate cover this process, not the workers.
    with memory.step(
        context,
        budget="filings",
        input_mb=input_mb,
        static_estimate_mb=64,
        include_children=False,
    ) as step:
        outcomes = process_filings(context, memory, filings, config, keys, step)
        frames = {o.key: o.frame for o in outcomes if o.frame is not None}
        dead = [o for o in outcomes if o.frame is None]
        for outcome in dead:
            context.log.error(f"{outcome.key} -> dead letter ({outcome.status}): {outcome.reason}")
        if not frames:
            raise dg.Failure(
                description=f"every filing of this run failed ({len(dead)}); they are in the "
                "dead-letter store for retry_dead_letters",
                metadata={"filings": dg.MetadataValue.md(_table(outcomes))},
                allow_retries=False,
            )
        largest = max((o for o in outcomes if o.frame is not None), key=lambda o: o.size_mb)
        metadata = {
            "memwise/filings": len(keys),
            "memwise/items_found": int(sum(len(f) for f in frames.values())),
            "memwise/dead_letters": len(dead),
            "memwise/dead_letter_filings": ", ".join(o.key for o in dead) or "none",
            "memwise/category": largest.category,
            "memwise/item_timeout_s": float(largest.timeout_s),
            # Per-filing figures the calibrated estimator learns from (largest filing).
            "memwise/item_input_mb": float(largest.size_mb),
            "memwise/item_peak_mb": float(largest.peak_mb),
            "memwise/filing_outcomes": dg.MetadataValue.md(_table(outcomes)),
        }
        # Failed filings are left out of the output: their previous sections stay stored.
        value = frames if len(keys) > 1 else frames[keys[0]]
        yield dg.Output(value, metadata=metadata)
    yield from filing_check_results(frames, {o.key: f"{o.status}: {o.reason}" for o in dead})


def landed_mb(landing: Path, keys: list[str]) -> float:
    """Total size in MB of the filings behind `keys` that are in the landing folder."""
    total = 0
    for key in keys:
        try:
            total += resolve_filing(landing, key).stat().st_size
        except (OSError, ValueError):
            continue  # reported per filing by process_filings
    return total / (1024.0 * 1024.0)


def _table(outcomes: list[FilingOutcome]) -> str:
    return md_table([_outcome_row(o) for o in outcomes])
