"""`daily_bars`: daily OHLCV per symbol from the configured price source."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field, model_validator

from memwise_assets.compute.prices import (
    DEFAULT_TICKERS,
    AlphaVantageSource,
    CsvPriceSource,
    PriceSource,
    SamplePriceSource,
    YFinancePriceSource,
)
from memwise_assets.defs.columns import column_metadata
from memwise_assets.defs.io_manager import PARTITION_COLUMN_KEY
from memwise_assets.defs.markdown import md_table
from memwise_assets.defs.prices.checks import PRICE_CHECKS, price_check_results
from memwise_assets.defs.prices.partitions import daily_partitions
from memwise_assets.defs.resources import MemoryResource

# Long frames of float64 prices: ~8 columns x 8 bytes, times pandas/arrow working copies.
_BYTES_PER_ROW_WORKING = 8 * 8 * 6


class PricesConfig(dg.Config):
    """Where daily bars come from and for which tickers."""

    source: Literal["sample", "csv", "yfinance"] = Field(
        default="sample",
        description="sample (offline synthetic, deterministic), csv (a folder of "
        "<TICKER>.csv Yahoo exports) or yfinance (Yahoo Finance, online).",
    )
    tickers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TICKERS), description="The ticker universe."
    )
    csv_folder: str | None = Field(default=None, description="Folder for source=csv.")
    seed: int = Field(default=0, description="Seed of the sample source.")
    yfinance_batch_size: int = Field(default=100, description="Tickers per yfinance.download call.")
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
    """The configured source, with a clear error for incomplete configuration."""
    if config.source == "sample":
        return SamplePriceSource(seed=config.seed)
    if config.source == "csv":
        if not config.csv_folder:
            raise dg.Failure("source=csv needs csv_folder: a folder of <TICKER>.csv files")
        return CsvPriceSource(config.csv_folder)
    return YFinancePriceSource(batch_size=config.yfinance_batch_size)


@dg.asset(
    group_name="prices",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={PARTITION_COLUMN_KEY: "date", **column_metadata("daily_bars")},
    check_specs=PRICE_CHECKS,
    pool="prices",
    kinds={"pandas", "parquet"},
)
def daily_bars(
    context: dg.AssetExecutionContext, config: PricesConfig, memory: MemoryResource
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily OHLCV bars, one row per symbol and trading day (long table)."""
    window = context.partition_time_window
    start, end = (
        pd.Timestamp(window.start).tz_localize(None),
        pd.Timestamp(window.end).tz_localize(None),
    )
    n_days = max(1, len(context.partition_keys))
    input_mb = len(config.tickers) * n_days * _BYTES_PER_ROW_WORKING / 1e6
    with memory.step(
        context, budget="prices", input_mb=input_mb, static_estimate_mb=100 + 4 * input_mb
    ) as step:
        step.mark("pre-fetch-start")
        context.log.info(
            f"fetching {len(config.tickers)} tickers from {config.source}, "
            f"{start.date()} to {end.date()} (end exclusive), {n_days} partitions"
        )
        result = price_source(config).fetch(
            config.tickers, start.to_pydatetime(), end.to_pydatetime()
        )
        if config.alpha_vantage_fill:
            api_key = dg.EnvVar("ALPHAVANTAGE_API_KEY").get_value()
            if not api_key:
                raise dg.Failure("alpha_vantage_fill needs the ALPHAVANTAGE_API_KEY variable")
            filled = AlphaVantageSource(api_key).fill_gaps(result.frame, config.tickers, start, end)
            result = dataclasses.replace(result, frame=filled.frame)
        step.mark("fetch-complete")
        summary = result.summary()
        if result.failed:
            context.log.warning(
                f"{len(result.failed)} tickers failed: {', '.join(result.failed[:20])}"
            )
        metadata: dict[str, object] = {
            "memwise/tickers_requested": int(summary["tickers_requested"]),
            "memwise/tickers_returned": int(summary["tickers_returned"]),
            "memwise/tickers_empty": int(summary["tickers_empty"]),
            "memwise/tickers_failed": int(summary["tickers_failed"]),
            "memwise/failed_tickers": ", ".join(result.failed) or "none",
            "memwise/source": config.source,
        }
        if result.failed or result.empty:
            # Every partition of a backfill repeats its metadata: the table only when it says
            # something the counts do not.
            metadata["memwise/ticker_report"] = dg.MetadataValue.md(
                md_table(result.report_frame().to_dict("records"))
            )
        yield dg.Output(result.frame, metadata=metadata)
    yield from price_check_results(result.frame, config.tickers, [*result.failed, *result.empty])
