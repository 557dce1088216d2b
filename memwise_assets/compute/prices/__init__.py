"""Daily price sources behind one interface, the NYSE calendar and the bars contract.

Every source's `fetch(tickers, start, end)` returns a `FetchResult`: `.frame` with columns
symbol (category), date (datetime64[ns], tz-naive), open/high/low/close/adj_close (float64),
volume (int64), one row per symbol and NYSE trading day in [start, end), sorted by symbol
then date; `.report` per ticker (ok | failed | empty, rows, reason, faults handled).
"""

from memwise_assets.compute.http import (
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    backoff_delays,
    yahoo_limiter,
)
from memwise_assets.compute.prices.alphavantage import AlphaVantageError, AlphaVantageSource
from memwise_assets.compute.prices.calendar import nyse_early_closes, nyse_holidays, trading_days
from memwise_assets.compute.prices.csv_source import CsvPriceSource, read_yahoo_csv
from memwise_assets.compute.prices.sample import DEFAULT_TICKERS, SamplePriceSource
from memwise_assets.compute.prices.schema import (
    BAR_COLUMNS,
    BAR_DTYPES,
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
from memwise_assets.compute.prices.yahoo import YFinancePriceSource, reshape_yf_frame

__all__ = [
    "BAR_COLUMNS",
    "BAR_DTYPES",
    "DEFAULT_TICKERS",
    "AlphaVantageError",
    "AlphaVantageSource",
    "CsvPriceSource",
    "FetchResult",
    "PriceSource",
    "PriceSourceError",
    "RateLimiter",
    "RetriesExhausted",
    "RetryPolicy",
    "SamplePriceSource",
    "TickerReport",
    "YFinancePriceSource",
    "backoff_delays",
    "bars_issues",
    "check_range",
    "empty_bars",
    "normalize_tickers",
    "nyse_early_closes",
    "nyse_holidays",
    "read_yahoo_csv",
    "reshape_yf_frame",
    "trading_days",
    "validate_bars",
    "yahoo_limiter",
]
