"""Company profiles and statements from Yahoo, and daily rows carrying only known figures."""

from collections.abc import Callable, Iterator
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from memwise_assets.compute.company import (
    CompanyDataError,
    CompanySource,
    join_fundamentals,
    read_filed_dates,
)
from memwise_assets.compute.company.availability import DEFAULT_FILER, deadline_lags
from memwise_assets.compute.markdown import md_table
from memwise_assets.compute.prices.schema import FetchResult
from memwise_assets.defs.block_joins import (
    CheckTally,
    join_blocks,
    join_step,
    of_symbols,
)
from memwise_assets.defs.blocked import plan_metadata
from memwise_assets.defs.company.checks import (
    FUNDAMENTAL_CHECKS,
    JOIN_CHECKS,
    NOTHING_BEFORE_AVAILABLE,
    PROFILE_CHECKS,
    fetch_check_results,
    fundamentals_check_result,
    join_check_result,
    profile_check_result,
)
from memwise_assets.defs.company.resources import CompanyConfig, CompanyDataResource
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.table_asset import table_asset
from memwise_assets.defs.universe import UNIVERSE_DEFS, UniverseResource

# Company frames are small (a few hundred rows per ticker); the step's memory is the
# interpreter and yfinance's JSON, not the data.
_STATIC_MB = 64.0
# What the daily join reads of daily_bars.
_DAILY = ["symbol", "date", "close"]


def _fetch_metadata(result: FetchResult, source: str) -> dict[str, object]:
    summary = result.summary()
    counts = ("tickers_requested", "tickers_returned", "tickers_failed")
    metadata: dict[str, object] = {f"memwise/{name}": int(summary[name]) for name in counts}
    metadata["memwise/failed_tickers"] = ", ".join(result.failed) or "none"
    metadata["memwise/source"] = source
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


def _fundamentals_metadata(frame: pd.DataFrame) -> dict[str, object]:
    metadata: dict[str, object] = {"memwise/line_items": int(frame["line_item"].nunique())}
    if len(frame):
        metadata["memwise/latest_period_end"] = str(frame["period_end"].max().date())
    return metadata


def _company_asset(
    name: str,
    description: str,
    fetch: Callable[[CompanySource], Callable[[list[str]], FetchResult]],
    checks: list[dg.AssetCheckSpec],
    check: Callable[[pd.DataFrame], dg.AssetCheckResult],
    describe: Callable[[pd.DataFrame], dict[str, object]] = lambda frame: {},
) -> dg.AssetsDefinition:
    """A company asset: fetch its tickers from the company source, store, check.

    Profiles and fundamentals differ only in what they fetch, check and add to the metadata.
    """

    @table_asset(
        "company",
        name=name,
        description=description,
        check_specs=checks,
        budget="prices",
        resource_defs=UNIVERSE_DEFS,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: CompanyConfig,
        memory: MemoryResource,
        company: CompanyDataResource,
        universe: UniverseResource,
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        config = universe.applied(config)
        with memory.step(context, budget="prices", static_estimate_mb=_STATIC_MB) as step:
            result = _fetch(context, fetch(company.source(config)), config)
            step.mark("fetch-complete")
            metadata = {**_fetch_metadata(result, config.source), **describe(result.frame)}
            yield step.output(result.frame, metadata=metadata)
            yield from fetch_check_results(result, config.tickers)
            yield check(result.frame)

    return _asset


company_profiles = _company_asset(
    "company_profiles",
    "One row per ticker: name, sector, industry, exchange, currency, market cap, shares.",
    lambda source: source.fetch_profiles,
    PROFILE_CHECKS,
    profile_check_result,
)
company_fundamentals = _company_asset(
    "company_fundamentals",
    "Quarterly and annual income, balance sheet and cash flow lines (long, not point in time).",
    lambda source: source.fetch_fundamentals,
    FUNDAMENTAL_CHECKS,
    fundamentals_check_result,
    describe=_fundamentals_metadata,
)


class FundamentalsJoinConfig(dg.Config):
    """Which statements daily rows carry, when a period counts without a filing date, and
    how long it is carried."""

    frequency: Literal["quarterly", "annual"] = Field(
        default="quarterly", description="Carry the latest quarter's or the latest year's lines."
    )
    filer_category: Literal["large_accelerated", "accelerated", "non_accelerated"] = Field(
        default=DEFAULT_FILER,
        description="SEC filer category assumed where no filing date is known: its 10-Q/10-K "
        "deadline (40/60, 40/75, 45/90 days) is when a period counts.",
    )
    late_filer_extension: bool = Field(
        default=True,
        description="Add the Form 12b-25 extension (5 days for a 10-Q, 15 for a 10-K).",
    )
    quarterly_lag_days: int | None = Field(
        default=None,
        description="Override: a quarter counts from the session after this many days past "
        "its end (no filing). Null: the filer category's deadline.",
    )
    annual_lag_days: int | None = Field(
        default=None,
        description="Override: a year (and the quarter ending on it) counts from the session "
        "after this many days past its end (no filing). Null: the filer category's deadline.",
    )
    max_age_days: int | None = Field(
        default=-1,
        description="A period is carried at most this many days after it ended (then NaN). "
        "-1: 200 for quarters, 480 for years; null: no limit.",
    )
    filed_dates_path: str | None = Field(
        default=None,
        description="10-Q/10-K filing dates: EDGAR submissions JSON (CIK*.json), or Parquet/"
        "CSV of ticker, period_end, filed_date; a file or a folder. Those periods are usable "
        "from the day after filing.",
    )


def _lags(config: FundamentalsJoinConfig) -> dict[str, int]:
    """The lags of the filer category, with the configured overrides."""
    lags = deadline_lags(config.filer_category, late=config.late_filer_extension)
    if config.quarterly_lag_days is not None:
        lags["quarterly"] = config.quarterly_lag_days
    if config.annual_lag_days is not None:
        lags["annual"] = config.annual_lag_days
    return lags


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


@table_asset("company", budget="weekly", reads={"daily_bars": _DAILY}, check_specs=JOIN_CHECKS)
def daily_with_fundamentals(
    context: dg.AssetExecutionContext,
    config: FundamentalsJoinConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
    company_fundamentals: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily rows with each symbol's latest statement figures public on that day."""
    # Filing dates come from EDGAR files for now; `filed_dates_from_sections` derives them
    # from sec_filing_sections once its rows carry tickers and filed dates.
    filed = _filed_dates(config.filed_dates_path)
    # The daily bars are read by blocks inside the step; the statements are held whole.
    joining = join_step(context, memory, daily_bars, _COST, "weekly", company_fundamentals, filed)
    with joining as (step, plan):
        tally = _JoinTally()

        def join(bars: pd.DataFrame) -> pd.DataFrame:
            # Only the block's tickers: every figure is matched within its own ticker.
            return join_fundamentals(
                bars,
                of_symbols(company_fundamentals, "ticker", bars["symbol"]),
                filed,
                frequency=config.frequency,
                lags_days=_lags(config),
                max_age_days=config.max_age_days,
            )

        def on_block(i: int, _bars: pd.DataFrame, joined: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}-of-{plan.blocks}")
            tally.add(joined)

        blocks = join_blocks(daily_bars, plan, join, on_block)
        yield step.output(Blocks(blocks, plan=plan_metadata(plan), summary=tally.metadata))
        yield tally.checks.result(NOTHING_BEFORE_AVAILABLE)


_COST = "fundamentals_attach"


class _JoinTally:
    """What daily_with_fundamentals reports, summed over its blocks."""

    def __init__(self) -> None:
        self.with_figures = self.by_filing = 0
        self.checks = CheckTally()

    def add(self, joined: pd.DataFrame) -> None:
        self.with_figures += int(joined["period_end"].notna().sum())
        self.by_filing += int((joined["availability"] == "filed").sum())
        self.checks.add(join_check_result(joined))

    def metadata(self) -> dict[str, object]:
        return {
            "memwise/rows_with_figures": self.with_figures,
            "memwise/rows_by_filing_date": self.by_filing,
            "memwise/values": "Yahoo's latest (restated) figures: timing point in time, "
            "values not; sec_fundamentals has them as first reported",
        }
