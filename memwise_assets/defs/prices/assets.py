"""`daily_bars`: daily OHLCV per symbol from the configured price source."""

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field, model_validator

from memwise_assets.compute.markdown import md_table
from memwise_assets.compute.prices import (
    AlphaVantageSource,
    CsvPriceSource,
    PriceSource,
    SamplePriceSource,
    YFinancePriceSource,
    trading_days,
)
from memwise_assets.compute.prices.monthly import MonthStream
from memwise_assets.compute.prices.schema import FetchResult
from memwise_assets.defs.budgets import BUDGETS, MB
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.figures import block_metadata
from memwise_assets.defs.io_manager import PARTITION_COLUMN_KEY
from memwise_assets.defs.prices.checks import PRICE_CHECKS, PriceChecks
from memwise_assets.defs.prices.partitions import monthly_partitions
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.universe import UNIVERSE_DEFS, UniverseResource

_EXCHANGE_TZ = "America/New_York"
_ONE_DAY = pd.Timedelta(days=1)
# Of the budget, month pieces held before a spill to the step's cache folder.
HOLD_SHARE = 0.3


class PricesConfig(dg.Config):
    """Where daily bars come from and for which tickers."""

    source: Literal["sample", "csv", "yfinance"] = Field(
        default="sample",
        description="sample (offline synthetic, deterministic), csv (a folder of "
        "<TICKER>.csv Yahoo exports) or yfinance (Yahoo Finance, online).",
    )
    tickers: list[str] | None = Field(
        default=None,
        description="This run's tickers; default the universe resource's (one universe for "
        "prices, company data and EDGAR).",
    )
    csv_folder: str | None = Field(default=None, description="Folder for source=csv.")
    seed: int = Field(default=0, description="Seed of the sample source.")
    yfinance_batch_size: int = Field(
        default=100, ge=1, le=1000, description="Tickers per yfinance.download call (1-1000)."
    )
    alpha_vantage_fill: bool = Field(
        default=False,
        description="Fill rows Yahoo left missing from Alpha Vantage (5 calls/min on the "
        "free tier; API key from ALPHAVANTAGE_API_KEY).",
    )

    @model_validator(mode="after")
    def _csv_folder_exists(self) -> "PricesConfig":
        # Refused once for the run, not once per ticker inside the step.
        if self.source == "csv" and not (self.csv_folder and Path(self.csv_folder).is_dir()):
            raise ValueError(
                "csv_folder: source=csv needs an existing folder of <TICKER>.csv files, "
                f"got {self.csv_folder!r}"
            )
        return self


def price_source(config: PricesConfig) -> PriceSource:
    """The configured source (PricesConfig already refused a csv source without a folder)."""
    if config.source == "sample":
        return SamplePriceSource(seed=config.seed)
    if config.source == "csv":
        return CsvPriceSource(config.csv_folder)
    return YFinancePriceSource(batch_size=config.yfinance_batch_size)


@dg.asset(
    group_name="prices",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={PARTITION_COLUMN_KEY: "date", **column_metadata("daily_bars")},
    check_specs=PRICE_CHECKS,
    pool=BUDGETS["prices"].pool,
    kinds={"pandas", "parquet"},
    resource_defs=UNIVERSE_DEFS,
)
def daily_bars(
    context: dg.AssetExecutionContext,
    config: PricesConfig,
    memory: MemoryResource,
    universe: UniverseResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily OHLCV bars, one row per symbol and trading day (long table), stored by month."""
    config = universe.applied(config)
    window = context.partition_time_window
    start, end = (
        pd.Timestamp(window.start).tz_localize(None),
        pd.Timestamp(window.end).tz_localize(None),
    )
    # The current month ends with today's session: later days have no bars yet.
    end = min(end, pd.Timestamp.now(tz=_EXCHANGE_TZ).tz_localize(None).normalize() + _ONE_DAY)
    keys = list(context.partition_keys)
    n_days = len(trading_days(start, end))
    source = price_source(config)
    input_mb = source.input_bytes(config.tickers, start, end) / MB
    with memory.step(context, budget="prices", input_mb=input_mb) as step:
        step.mark("pre-fetch-start")
        context.log.info(
            f"fetching {len(config.tickers)} tickers from {config.source}, "
            f"{start.date()} to {end.date()} (end exclusive): {n_days} trading days, "
            f"{len(keys)} monthly partitions"
        )
        stream = MonthStream(
            source,
            config.tickers,
            start,
            end,
            keys,
            spill_dir=step.cache_dir,
            hold_mb=step.limit_mb * HOLD_SHARE,
            enrich=_alpha_vantage_fill(start, end) if config.alpha_vantage_fill else None,
            on_slice=lambda i, n: step.mark(f"slice-{i + 1}-of-{n}"),
        )
        checks = PriceChecks()
        largest = [0]

        def months() -> Iterator[tuple[str, pd.DataFrame]]:
            # The IO manager pulls the months one by one and stores each as it comes.
            for key, frame in stream.months():
                checks.add(frame)
                largest[0] = max(largest[0], len(frame))
                yield key, frame

        def summary() -> dict[str, object]:
            step.mark("fetch-complete")
            result = stream.result
            if result.failed:
                context.log.warning(
                    f"{len(result.failed)} tickers failed: {', '.join(result.failed[:20])}"
                )
            plan = (
                f"one month per block ({len(keys)}); fetched in ticker slices, month pieces "
                f"held up to {step.limit_mb * HOLD_SHARE:.0f} MB ({HOLD_SHARE:.2f} of the "
                f"budget), {stream.spills} spill(s) to the step's cache"
            )
            return {
                **block_metadata(len(keys), largest[0], plan),
                **_source_metadata(result, config.source),
            }

        yield step.output(Blocks(months(), summary=summary))
        result = stream.result
        yield from checks.results(
            config.tickers, [*result.failed, *result.empty], empty=result.empty
        )


def _alpha_vantage_fill(start: pd.Timestamp, end: pd.Timestamp):
    api_key = dg.EnvVar("ALPHAVANTAGE_API_KEY").get_value()
    if not api_key:
        raise dg.Failure("alpha_vantage_fill needs the ALPHAVANTAGE_API_KEY variable")
    filler = AlphaVantageSource(api_key)
    return lambda frame, tickers: filler.fill_gaps(frame, tickers, start, end).frame


def _source_metadata(result: FetchResult, source: str) -> dict[str, object]:
    summary = result.summary()
    metadata: dict[str, object] = {
        "memwise/tickers_requested": int(summary["tickers_requested"]),
        "memwise/tickers_returned": int(summary["tickers_returned"]),
        "memwise/tickers_empty": int(summary["tickers_empty"]),
        "memwise/tickers_failed": int(summary["tickers_failed"]),
        "memwise/failed_tickers": ", ".join(result.failed) or "none",
        "memwise/source": source,
    }
    if result.failed or result.empty:
        metadata["memwise/ticker_report"] = dg.MetadataValue.md(
            md_table(result.report_frame().to_dict("records"))
        )
    return metadata
