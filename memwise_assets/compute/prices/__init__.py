"""Daily price sources behind one interface, the NYSE calendar and the bars contract."""

from memwise_assets.compute.prices.calendar import nyse_holidays, trading_days
from memwise_assets.compute.prices.sample import DEFAULT_TICKERS, SamplePriceSource
from memwise_assets.compute.prices.schema import (
    BAR_COLUMNS,
    FetchResult,
    PriceSource,
    PriceSourceError,
    TickerReport,
    bars_issues,
    check_range,
    empty_bars,
    normalize_tickers,
    validate_bars,
)

__all__ = [
    "BAR_COLUMNS",
    "DEFAULT_TICKERS",
    "FetchResult",
    "PriceSource",
    "PriceSourceError",
    "SamplePriceSource",
    "TickerReport",
    "bars_issues",
    "check_range",
    "empty_bars",
    "normalize_tickers",
    "nyse_holidays",
    "trading_days",
    "validate_bars",
]
