"""One ticker universe: the tickers daily_bars, the company data and the EDGAR download read.

Configured once: `resources: {universe: {config: {tickers: [...]}}}` in a run's config (the
Launchpad, `memwise demo --config`), or `MEMWISE_UNIVERSE` (a file of tickers or a comma list)
for every run of a deployment. A step's own `tickers` config still overrides it for one run.
The resource travels with the assets that read it (`resource_defs`), so any `Definitions` or
`dg.materialize` of them has it without binding it again.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field, field_validator

from memwise_assets.compute.prices.sample import DEFAULT_TICKERS
from memwise_assets.compute.universe import parse_tickers, read_universe

UNIVERSE_KEY = "universe"
UNIVERSE_ENV = "MEMWISE_UNIVERSE"


class UniverseResource(dg.ConfigurableResource):
    """The ticker universe prices, company data and the EDGAR download share."""

    tickers: list[str] = Field(
        default_factory=list,
        description="Tickers of the universe. Empty: the file, else $MEMWISE_UNIVERSE, else "
        "the 66 sample tickers.",
    )
    file: str | None = Field(
        default=None, description="A text file of tickers (commas or lines; # comments)."
    )

    @field_validator("tickers")
    @classmethod
    def _tickers_look_like_tickers(cls, value: list[str]) -> list[str]:
        return parse_tickers(",".join(value))

    def resolve(self) -> list[str]:
        """The universe's tickers: tickers, else file, else $MEMWISE_UNIVERSE, else the sample's."""
        if self.tickers:
            return list(self.tickers)
        spec = self.file or os.environ.get(UNIVERSE_ENV)
        return read_universe(spec) if spec else list(DEFAULT_TICKERS)

    def applied(self, config: dg.Config) -> dg.Config:
        """`config` with its `tickers` filled from the universe unless the run set them."""
        if getattr(config, "tickers", None):
            return config
        return config.model_copy(update={"tickers": self.resolve()})


# One instance shared by every asset and job that reads the universe: Dagster accepts the
# same resource on many assets, and a run's config of it reaches them all.
UNIVERSE = UniverseResource()
UNIVERSE_DEFS = {UNIVERSE_KEY: UNIVERSE}
