"""Where company data comes from: the configured source, behind a resource tests can swap."""

from typing import Literal

import dagster as dg
from pydantic import Field

from memwise_assets.compute.company import (
    CompanySource,
    SampleCompanySource,
    YFinanceCompanySource,
)


class CompanyConfig(dg.Config):
    """Which source and tickers a company-data step fetches."""

    source: Literal["sample", "yfinance"] = Field(
        default="sample",
        description="sample (offline synthetic, deterministic) or yfinance (Yahoo, online).",
    )
    tickers: list[str] | None = Field(
        default=None,
        description="This run's tickers; default the universe resource's (the tickers "
        "daily_bars reads).",
    )
    seed: int = Field(default=0, description="Seed of the sample source.")


class CompanyDataResource(dg.ConfigurableResource):
    """Builds the company-data source; a test binds a subclass that replays recordings."""

    threads: int = Field(
        default=4,
        description="Tickers fetched at once from Yahoo; requests still share the process's "
        "10/s bucket with the price downloads.",
    )

    def source(self, config: CompanyConfig) -> CompanySource:
        """The source `config` names."""
        if config.source == "sample":
            return SampleCompanySource(seed=config.seed)
        return YFinanceCompanySource(threads=self.threads)
