"""Asset checks of the company assets, evaluated on the frames the steps produced."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from memwise_assets.compute.prices.schema import FetchResult

TICKERS_ACCOUNTED = "tickers_present_or_reported"
ALL_FETCHED = "all_tickers_fetched"
ONE_ROW_PER_TICKER = "one_row_per_ticker"
PERIOD_END_PRESENT = "rows_carry_period_end"
NOTHING_BEFORE_AVAILABLE = "no_figure_before_available"


_FETCH_CHECKS = {
    TICKERS_ACCOUNTED: "Each requested ticker has rows or is reported failed with a reason.",
    ALL_FETCHED: "No ticker failed (a warning: the others are stored all the same).",
}


def _fetch_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(n, asset=asset, description=d) for n, d in _FETCH_CHECKS.items()]


PROFILE_CHECKS = [
    *_fetch_specs("company_profiles"),
    dg.AssetCheckSpec(ONE_ROW_PER_TICKER, asset="company_profiles", description="No repeats."),
]
FUNDAMENTAL_CHECKS = [
    *_fetch_specs("company_fundamentals"),
    dg.AssetCheckSpec(
        PERIOD_END_PRESENT,
        asset="company_fundamentals",
        description="Every row has a period_end and a fetched_at.",
    ),
]
JOIN_CHECKS = [
    dg.AssetCheckSpec(
        NOTHING_BEFORE_AVAILABLE,
        asset="daily_with_fundamentals",
        description="No row carries a period's figures before that period's available_date.",
    )
]


def fetch_check_results(result: FetchResult, requested: list[str]) -> Iterator[dg.AssetCheckResult]:
    """The two per-ticker checks of a company fetch."""
    present = set(result.frame["ticker"].astype(str)) if len(result.frame) else set()
    unaccounted = sorted({t.upper() for t in requested} - present - set(result.failed))
    yield dg.AssetCheckResult(
        check_name=TICKERS_ACCOUNTED,
        passed=not unaccounted,
        metadata={"unaccounted": ", ".join(unaccounted[:50]) or "none"},
    )
    reasons = {t: result.report[t].reason for t in result.failed}
    yield dg.AssetCheckResult(
        check_name=ALL_FETCHED,
        passed=not reasons,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": len(reasons),
            "failed_tickers": ", ".join(reasons) or "none",
            "reasons": dg.MetadataValue.json(reasons),
        },
    )


def profile_check_result(frame: pd.DataFrame) -> dg.AssetCheckResult:
    """One row per ticker."""
    repeats = int(frame["ticker"].duplicated().sum())
    return dg.AssetCheckResult(
        check_name=ONE_ROW_PER_TICKER, passed=repeats == 0, metadata={"repeated": repeats}
    )


def fundamentals_check_result(frame: pd.DataFrame) -> dg.AssetCheckResult:
    """Every row dated by its period and its fetch."""
    missing = int((frame["period_end"].isna() | frame["fetched_at"].isna()).sum())
    return dg.AssetCheckResult(
        check_name=PERIOD_END_PRESENT, passed=missing == 0, metadata={"rows_missing": missing}
    )


def join_check_result(frame: pd.DataFrame) -> dg.AssetCheckResult:
    """No look-ahead: a carried period is available on or before the row's date."""
    early = int((frame["available_date"] > frame["date"]).sum())
    carried = int(frame["period_end"].notna().sum())
    return dg.AssetCheckResult(
        check_name=NOTHING_BEFORE_AVAILABLE,
        passed=early == 0,
        metadata={"rows_early": early, "rows_with_figures": carried},
    )
