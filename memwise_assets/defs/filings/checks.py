"""Asset checks of `sec_filing_sections`: the core 10-K Items present, no duplicates."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

CORE_ITEMS = "core_10k_items_present"
NO_DUPLICATE_ITEMS = "no_duplicate_items"
NO_DEAD_LETTERS = "no_dead_letters"
# Below this an Item is a heading or a stub, not its text.
NON_TRIVIAL_CHARS = 200
# Items 1A and 1B entered Form 10-K together (SEC, December 2005): a 10-K that has 1B
# is of the post-2005 layout and must have 1A too.
_POST_2005_MARKERS = {"1B", "1C"}
# Sections that legitimately carry a statement instead of body text.
_STATEMENT_SOURCES = {"incorporated-by-reference", "not-applicable"}

FILING_CHECKS = [
    dg.AssetCheckSpec(
        CORE_ITEMS,
        asset="sec_filing_sections",
        description="Every 10-K has Items 1, 7 and 8 (and 1A after 2005) with non-trivial text.",
    ),
    dg.AssetCheckSpec(
        NO_DUPLICATE_ITEMS, asset="sec_filing_sections", description="Each Item once per filing."
    ),
    # A dead-lettered filing of a batch is not materialized (its partition shows missing)
    # while the run succeeds for the others: this check says which filings those were.
    dg.AssetCheckSpec(
        NO_DEAD_LETTERS,
        asset="sec_filing_sections",
        description="No filing of the run went to the dead-letter store.",
    ),
]


def _missing_core(frame: pd.DataFrame) -> list[str]:
    items = frame["item"].astype(str)
    required = {"1", "7", "8"}
    if _POST_2005_MARKERS & set(items):
        required.add("1A")
    substantial = frame["n_chars"] >= NON_TRIVIAL_CHARS
    if "source" in frame.columns:
        substantial |= frame["source"].astype(str).isin(_STATEMENT_SOURCES)
    present = set(items[substantial])
    return sorted(required - present)


def filing_check_results(
    frames: dict[str, pd.DataFrame], dead_letters: dict[str, str]
) -> Iterator[dg.AssetCheckResult]:
    """The checks over every filing the step stored, and the ones it dead-lettered."""
    missing: dict[str, list[str]] = {}
    duplicated: dict[str, list[str]] = {}
    for key, frame in frames.items():
        if len(frame) and (frame["form"].astype(str) == "10-K").any():
            gaps = _missing_core(frame)
            if gaps:
                missing[key] = gaps
        dupes = frame.loc[frame["item"].duplicated(), "item"].astype(str).tolist()
        if dupes:
            duplicated[key] = dupes
    yield dg.AssetCheckResult(
        check_name=CORE_ITEMS,
        passed=not missing,
        metadata={"missing": "; ".join(f"{k}: {v}" for k, v in missing.items()) or "none"},
    )
    yield dg.AssetCheckResult(
        check_name=NO_DUPLICATE_ITEMS,
        passed=not duplicated,
        metadata={"duplicates": "; ".join(f"{k}: {v}" for k, v in duplicated.items()) or "none"},
    )
    yield dg.AssetCheckResult(
        check_name=NO_DEAD_LETTERS,
        passed=not dead_letters,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "dead_letters": "; ".join(f"{k}: {v}" for k, v in dead_letters.items()) or "none"
        },
    )
