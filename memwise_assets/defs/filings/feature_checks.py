"""Asset checks of the filing features: same-company comparisons, no look-ahead in the join."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.filings.features import (
    PERIOD_TOLERANCE_DAYS,
    YEAR_DAYS,
    previous_filings,
)
from memwise_assets.compute.filings.point_in_time import (
    PUBLIC_COLUMN,
    attach_filing_features,
    look_ahead_violations,
)
from memwise_assets.compute.point_in_time import public_session, unchanged_before_cut

SAME_COMPANY = "compared_within_company_and_form"
NO_FILING_LOOK_AHEAD = "no_filing_look_ahead"

FILING_FEATURE_CHECKS = [
    dg.AssetCheckSpec(
        SAME_COMPANY,
        asset="filing_text_features",
        description="Every filing is compared only with a filing of the same CIK and form, "
        f"whose period is a year earlier (within {PERIOD_TOLERANCE_DAYS} days) and which was "
        "filed strictly earlier; and with that filing whenever there is one.",
    ),
]
FILING_JOIN_CHECKS = [
    dg.AssetCheckSpec(
        NO_FILING_LOOK_AHEAD,
        asset="daily_with_filing_features",
        description="No row carries a filing accepted after its session opened, and "
        "recomputing without the filings public after a cut leaves every row up to the cut "
        "unchanged.",
    ),
]


def comparison_violations(features: pd.DataFrame) -> dict[str, int]:
    """How many comparisons break the previous-filing rule, by kind (all zero: none)."""
    compared = features[features["prev_filing_id"].notna()]
    prev = features.set_index("filing_id").reindex(compared["prev_filing_id"])
    period = pd.to_datetime(compared["period_of_report"]).to_numpy("datetime64[ns]")
    prev_period = pd.to_datetime(prev["period_of_report"]).to_numpy("datetime64[ns]")
    gap_days = (period - prev_period) / np.timedelta64(1, "D")
    filed = pd.to_datetime(compared["filed_date"]).to_numpy("datetime64[ns]")
    prev_filed = pd.to_datetime(prev["filed_date"]).to_numpy("datetime64[ns]")
    both = ~np.isnat(filed) & ~np.isnat(prev_filed)
    expected = previous_filings(features)
    return {
        "wrong_company_or_form": int(
            (
                (prev["cik"].to_numpy() != compared["cik"].to_numpy())
                | (prev["form"].astype(str).to_numpy() != compared["form"].astype(str).to_numpy())
            ).sum()
        ),
        "period_not_a_year_earlier": int(
            (np.isnan(gap_days) | (np.abs(gap_days - YEAR_DAYS) > PERIOD_TOLERANCE_DAYS)).sum()
        ),
        "filed_not_earlier": int((both & (prev_filed >= filed)).sum()),
        "not_the_rules_choice": int(
            (
                expected.fillna("").to_numpy() != features["prev_filing_id"].fillna("").to_numpy()
            ).sum()
        ),
    }


def feature_check_results(features: pd.DataFrame) -> Iterator[dg.AssetCheckResult]:
    """Previous filings are the same CIK and form, a year earlier, filed before."""
    wrong = comparison_violations(features)
    yield dg.AssetCheckResult(
        check_name=SAME_COMPANY,
        passed=not any(wrong.values()),
        metadata={"compared": int(features["prev_filing_id"].notna().sum()), **wrong},
    )


def join_check_results(
    daily: pd.DataFrame,
    features: pd.DataFrame,
    joined: pd.DataFrame,
    seed: int = 0,
    **join_args: object,
) -> Iterator[dg.AssetCheckResult]:
    """The join's look-ahead check: public times respected, and a truncation changes nothing
    before the cut (drawn from the last half of the filings' public sessions)."""
    late = look_ahead_violations(joined)
    sessions = public_session(features["accepted_at"], features["filed_date"])
    known = np.sort(sessions.dropna().unique())
    detail, same, cut = "no filing with a public session to cut at", True, None
    if len(known) >= 2:
        rng = np.random.default_rng(seed)
        # Never the last session: a cut there would drop no filing and prove nothing.
        low = min(len(known) // 2, len(known) - 2)
        cut = pd.Timestamp(known[rng.integers(low, len(known) - 1)])
        kept = features[sessions.notna() & (sessions <= cut)]
        again = attach_filing_features(daily, kept, **join_args)
        differs = unchanged_before_cut(joined, again, cut, ignore=[PUBLIC_COLUMN])
        same, detail = differs is None, differs or "identical"
    yield dg.AssetCheckResult(
        check_name=NO_FILING_LOOK_AHEAD,
        passed=late.empty and same,
        metadata={
            "rows_with_filing_public_too_late": len(late),
            "cut_session": str(cut.date()) if cut is not None else "-",
            "truncation": detail,
        },
    )
