"""Asset checks of the filing features: same-company comparisons, no look-ahead in the join."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from memwise_assets.compute.filings.point_in_time import (
    PUBLIC_COLUMN,
    attach_filing_features,
    look_ahead_violations,
    public_session,
)

SAME_COMPANY = "compared_within_company_and_form"
NO_FILING_LOOK_AHEAD = "no_filing_look_ahead"

FILING_FEATURE_CHECKS = [
    dg.AssetCheckSpec(
        SAME_COMPANY,
        asset="filing_text_features",
        description="Every filing is compared only with an earlier filing of the same CIK "
        "and form.",
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


def feature_check_results(features: pd.DataFrame) -> Iterator[dg.AssetCheckResult]:
    """Previous filings are of the same CIK and form, and earlier in the company's history."""
    compared = features[features["prev_filing_id"].notna()]
    prev = features.set_index("filing_id").reindex(compared["prev_filing_id"])
    wrong = (prev["cik"].to_numpy() != compared["cik"].to_numpy()) | (
        prev["form"].astype(str).to_numpy() != compared["form"].astype(str).to_numpy()
    )
    yield dg.AssetCheckResult(
        check_name=SAME_COMPANY,
        passed=not wrong.any(),
        metadata={
            "compared": len(compared),
            "wrong_company_or_form": int(wrong.sum()),
        },
    )


def join_check_results(
    daily: pd.DataFrame, features: pd.DataFrame, joined: pd.DataFrame, seed: int = 0
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
        again = attach_filing_features(daily, kept)
        before = pd.to_datetime(joined["date"]) <= cut
        a = joined.loc[before].drop(columns=[PUBLIC_COLUMN]).reset_index(drop=True)
        b = again.loc[before].drop(columns=[PUBLIC_COLUMN]).reset_index(drop=True)
        try:
            pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)
            detail = "identical"
        except AssertionError as exc:
            same, detail = False, str(exc)[:500]
    yield dg.AssetCheckResult(
        check_name=NO_FILING_LOOK_AHEAD,
        passed=late.empty and same,
        metadata={
            "rows_with_filing_public_too_late": len(late),
            "cut_session": str(cut.date()) if cut is not None else "-",
            "truncation": detail,
        },
    )
