"""What every online source shares: one bounded HTTP GET, pacing and retries,
Yahoo's error classes."""

from memwise_assets.compute.http.pacing import (
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    backoff_delays,
    yahoo_limiter,
    yahoo_pacer,
)
from memwise_assets.compute.http.request import HttpRefused, HttpStatus, bounded_get, origin
from memwise_assets.compute.http.yahoo_errors import (
    TickersRateLimited,
    capture_yf_errors,
    capture_yf_log,
    is_network_error,
    is_rate_limit,
    is_retryable,
)

__all__ = [
    "HttpRefused",
    "HttpStatus",
    "RateLimiter",
    "RetriesExhausted",
    "RetryPolicy",
    "TickersRateLimited",
    "backoff_delays",
    "bounded_get",
    "capture_yf_errors",
    "capture_yf_log",
    "is_network_error",
    "is_rate_limit",
    "is_retryable",
    "origin",
    "yahoo_limiter",
    "yahoo_pacer",
]
