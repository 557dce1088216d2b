"""Text features per filing, and daily rows carrying the latest filing public by the open."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from memwise_assets.compute.filings.features import SECTION_COLUMNS, text_features
from memwise_assets.compute.filings.point_in_time import (
    CARRIED,
    DEFAULT_MAX_AGE_DAYS,
    attach_filing_features,
)
from memwise_assets.defs.block_joins import (
    CheckTally,
    arrow_types,
    float_counts,
    join_blocks,
    join_step,
)
from memwise_assets.defs.blocked import plan_metadata
from memwise_assets.defs.filings.feature_checks import (
    FILING_FEATURE_CHECKS,
    FILING_JOIN_CHECKS,
    NO_FILING_LOOK_AHEAD,
    feature_check_results,
    join_check_results,
)
from memwise_assets.defs.home_and_size import frame_mb
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.table_asset import table_asset

_DAILY_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]
# Its own budget (memwise_assets/defs/budgets.py); `limits_mb` may size it.
BUDGET = "filing_features"


@table_asset(
    "filings",
    budget=BUDGET,
    reads={"sec_filing_sections": SECTION_COLUMNS},
    check_specs=FILING_FEATURE_CHECKS,
)
def filing_text_features(
    context: dg.AssetExecutionContext, memory: MemoryResource, sec_filing_sections: pd.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """One row per filing: Item lengths and how much its text changed since the last one."""
    input_mb = frame_mb(sec_filing_sections)
    # Word counts of two filings at a time beside the loaded sections: 2x covers it.
    with memory.step(
        context, budget=BUDGET, input_mb=input_mb, static_estimate_mb=64 + 2 * input_mb
    ) as step:
        step.mark("input-loaded")
        features = text_features(sec_filing_sections)
        step.mark("features-complete")
        compared = features["prev_filing_id"].notna()
        yield step.output(
            features,
            metadata={
                "memwise/filings": len(features),
                "memwise/compared_filings": int(compared.sum()),
                "memwise/filings_without_date": int(features["filed_date_unknown"].sum()),
                "memwise/companies": int(features["cik"].nunique()),
            },
        )
        yield from feature_check_results(features)


class FilingJoinConfig(dg.Config):
    """How long a filing is carried onto daily rows."""

    max_age_days: int | None = Field(
        default=DEFAULT_MAX_AGE_DAYS,
        description="A filing is carried at most this many calendar days after its public "
        "session (then the row carries none: stale); null: until the next filing.",
    )


@table_asset(
    "filings", budget=BUDGET, reads={"daily_bars": _DAILY_COLUMNS}, check_specs=FILING_JOIN_CHECKS
)
def daily_with_filing_features(
    context: dg.AssetExecutionContext,
    config: FilingJoinConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
    filing_text_features: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily rows with the features of their ticker's latest filing public before the open."""
    # The daily bars are read by blocks inside the step; the filings (one row each) whole.
    joining = join_step(context, memory, daily_bars, _COST, BUDGET, filing_text_features)
    with joining as (step, plan):
        with_filing, filings = [0], set()
        checks = CheckTally()

        def on_block(i: int, bars: pd.DataFrame, joined: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}-of-{plan.blocks}")
            with_filing[0] += int(joined["filing_id"].notna().sum())
            filings.update(joined["filing_id"].dropna().unique())
            checks.add(
                next(
                    join_check_results(
                        bars, filing_text_features, joined, max_age_days=config.max_age_days
                    )
                )
            )

        def summary() -> dict[str, object]:
            return {
                "memwise/rows_with_filing": with_filing[0],
                "memwise/filings_joined": len(filings),
                "memwise/convention": "first session opening (09:30 New York) after "
                "acceptance; date only: next session after the filing date",
                "memwise/max_age_days": str(config.max_age_days),
            }

        blocks = join_blocks(
            daily_bars,
            plan,
            lambda bars: attach_filings(bars, filing_text_features, config.max_age_days),
            on_block,
        )
        yield step.output(
            Blocks(
                blocks,
                plan=plan_metadata(plan),
                summary=summary,
                null_types=arrow_types(filing_text_features, {c: c for c in CARRIED}),
            )
        )
        yield checks.result(NO_FILING_LOOK_AHEAD)


_COST = "filing_attach"


def attach_filings(
    bars: pd.DataFrame, features: pd.DataFrame, max_age_days: int | None
) -> pd.DataFrame:
    """One block's daily rows with their filings (counts as float64 in every block)."""
    return float_counts(attach_filing_features(bars, features, max_age_days=max_age_days), bars)
