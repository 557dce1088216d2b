"""Company profiles and statements from Yahoo, and daily rows carrying only known figures."""

from collections.abc import Callable, Iterator
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from memwise_assets.compute.company import CompanyDataError, join_fundamentals, read_filed_dates
from memwise_assets.compute.markdown import md_table
from memwise_assets.compute.prices.schema import FetchResult
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.company.checks import (
    FUNDAMENTAL_CHECKS,
    JOIN_CHECKS,
    PROFILE_CHECKS,
    fetch_check_results,
    fundamentals_check_result,
    join_check_result,
    profile_check_result,
)
from memwise_assets.defs.company.resources import CompanyConfig, CompanyDataResource
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.shared import frame_mb

# Company frames are small (a few hundred rows per ticker); the step's memory is the
# interpreter and yfinance's JSON, not the data.
_STATIC_MB = 64.0


def _fetch_metadata(result: FetchResult, source: str) -> dict[str, object]:
    summary = result.summary()
    metadata: dict[str, object] = {
        "memwise/tickers_requested": int(summary["tickers_requested"]),
        "memwise/tickers_returned": int(summary["tickers_returned"]),
        "memwise/tickers_failed": int(summary["tickers_failed"]),
        "memwise/failed_tickers": ", ".join(result.failed) or "none",
        "memwise/source": source,
    }
    if result.failed or result.empty:
        rows = result.report_frame()[["symbol", "status", "rows", "reason"]]
        metadata["memwise/ticker_report"] = dg.MetadataValue.md(md_table(rows.to_dict("records")))
    return metadata


def _fetch(
    context: dg.AssetExecutionContext,
    fetch: Callable[[list[str]], FetchResult],
    config: CompanyConfig,
) -> FetchResult:
    try:
        result = fetch(config.tickers)
    except CompanyDataError as exc:
        # Every ticker failed: nothing to store, and the previous output stays as it was.
        raise dg.Failure(description=str(exc)) from exc
    if result.failed:
        context.log.warning(f"{len(result.failed)} tickers failed: {', '.join(result.failed)}")
    return result


@dg.asset(
    group_name="company",
    check_specs=PROFILE_CHECKS,
    pool="prices",
    kinds={"pandas", "parquet"},
    metadata=column_metadata("company_profiles"),
)
def company_profiles(
    context: dg.AssetExecutionContext,
    config: CompanyConfig,
    memory: MemoryResource,
    company: CompanyDataResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """One row per ticker: name, sector, industry, exchange, currency, market cap, shares."""
    with memory.step(context, budget="prices", static_estimate_mb=_STATIC_MB) as step:
        result = _fetch(context, company.source(config).fetch_profiles, config)
        step.mark("fetch-complete")
        yield dg.Output(result.frame, metadata=_fetch_metadata(result, config.source))
        yield from fetch_check_results(result, config.tickers)
        yield profile_check_result(result.frame)


@dg.asset(
    group_name="company",
    check_specs=FUNDAMENTAL_CHECKS,
    pool="prices",
    kinds={"pandas", "parquet"},
    metadata=column_metadata("company_fundamentals"),
)
def company_fundamentals(
    context: dg.AssetExecutionContext,
    config: CompanyConfig,
    memory: MemoryResource,
    company: CompanyDataResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Quarterly and annual income, balance sheet and cash flow lines (long, not point in time)."""
    with memory.step(context, budget="prices", static_estimate_mb=_STATIC_MB) as step:
        result = _fetch(context, company.source(config).fetch_fundamentals, config)
        step.mark("fetch-complete")
        frame = result.frame
        metadata = _fetch_metadata(result, config.source)
        metadata["memwise/line_items"] = int(frame["line_item"].nunique())
        if len(frame):
            metadata["memwise/latest_period_end"] = str(frame["period_end"].max().date())
        yield dg.Output(frame, metadata=metadata)
        yield from fetch_check_results(result, config.tickers)
        yield fundamentals_check_result(frame)


class FundamentalsJoinConfig(dg.Config):
    """Which statements daily rows carry, and the availability lags where no filing is known."""

    frequency: Literal["quarterly", "annual"] = Field(
        default="quarterly", description="Carry the latest quarter's or the latest year's lines."
    )
    quarterly_lag_days: int = Field(
        default=45, description="A quarter is usable this many days after it ends (no filing)."
    )
    annual_lag_days: int = Field(
        default=90, description="A year is usable this many days after it ends (no filing)."
    )
    filed_dates_path: str | None = Field(
        default=None,
        description="10-Q/10-K filing dates: EDGAR submissions JSON (CIK*.json), or Parquet/"
        "CSV of ticker, period_end, filed_date; a file or a folder. Those periods are usable "
        "from the day after filing.",
    )


def _filed_dates(path: str | None) -> pd.DataFrame | None:
    """The filing dates of `filed_dates_path` (None: every period uses the lag)."""
    if not path:
        return None
    try:
        return read_filed_dates(path)
    except (OSError, ValueError) as exc:
        raise dg.Failure(
            "filed_dates_path must be EDGAR submissions JSON, or Parquet/CSV of ticker, "
            f"period_end, filed_date (a file or a folder of them); could not read {path!r}: {exc}"
        ) from exc


@dg.asset(
    group_name="company",
    ins={"daily_bars": dg.AssetIn(metadata={"columns": ["symbol", "date", "close"]})},
    check_specs=JOIN_CHECKS,
    kinds={"pandas", "parquet"},
    metadata=column_metadata("daily_with_fundamentals"),
)
def daily_with_fundamentals(
    context: dg.AssetExecutionContext,
    config: FundamentalsJoinConfig,
    memory: MemoryResource,
    daily_bars: pd.DataFrame,
    company_fundamentals: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily rows with each symbol's latest statement figures public on that day."""
    input_mb = frame_mb(daily_bars) + frame_mb(company_fundamentals)
    # Filing dates come from EDGAR files for now; `filed_dates_from_sections` derives them
    # from sec_filing_sections once its rows carry tickers and filed dates.
    filed = _filed_dates(config.filed_dates_path)
    with memory.step(
        context, budget="weekly", input_mb=input_mb, static_estimate_mb=64 + 3 * input_mb
    ) as step:
        step.mark("input-loaded")
        joined = join_fundamentals(
            daily_bars,
            company_fundamentals,
            filed,
            frequency=config.frequency,
            lags_days={"quarterly": config.quarterly_lag_days, "annual": config.annual_lag_days},
        )
        step.mark("join-complete")
        carried = joined["period_end"].notna()
        yield dg.Output(
            joined,
            metadata={
                "memwise/rows_with_figures": int(carried.sum()),
                "memwise/rows_by_filing_date": int((joined["availability"] == "filed").sum()),
            },
        )
        yield join_check_result(joined)
