"""Company profiles and statements from Yahoo through `yfinance.Ticker`: paced, retried.

yfinance 1.x has no multi-ticker endpoint for these: each ticker is its own requests
(`info`: quoteSummary, quote and one time series; each statement frame: one time series).
Tickers go to a few worker threads, every request takes its token from the process's Yahoo
bucket (shared with the price downloads), and yfinance's logged errors are captured per
worker thread, as for prices. A rate limit, raised (YFRateLimitError) or logged (HTTP 429),
retries that ticker under the shared `RetryPolicy`; anything else fails that ticker only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd

from memwise_assets.compute.company.schema import (
    STATEMENT_ATTRS,
    fundamentals_frame,
    profile_row,
    profiles_frame,
    statement_long,
)
from memwise_assets.compute.company.source import CompanySource, company_result
from memwise_assets.compute.http import (
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    TickersRateLimited,
    capture_yf_log,
    is_rate_limit,
    is_retryable,
    yahoo_pacer,
)
from memwise_assets.compute.prices import FetchResult

INFO_REQUESTS = 3
_DESCRIPTION = re.compile(r'"description"\s*:\s*"([^"]*)"')
T = TypeVar("T")


class NoCompanyData(Exception):
    """Yahoo answered but had nothing for this ticker (unknown, delisted, not covered)."""


def _default_ticker(symbol: str) -> Any:
    import yfinance  # imported late: only the online source needs it

    return yfinance.Ticker(symbol)


class YFinanceCompanySource(CompanySource):
    """Yahoo company data: `Ticker.info` for profiles, the six statement frames for fundamentals.

    `ticker` builds the object asked for each ticker (default `yfinance.Ticker`): the seam
    the tests replay recorded responses through.
    """

    name = "yfinance"

    def __init__(
        self,
        *,
        threads: int = 4,
        max_requests_per_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 2.0,
        ticker: Callable[[str], Any] | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        if threads < 1:
            raise ValueError(f"threads must be >= 1; got {threads}")
        self.threads = threads
        self.retry = RetryPolicy(retries=retries, base_s=backoff_s)
        self.ticker = ticker or _default_ticker
        self.sleep = sleep or time.sleep
        self.limiter = limiter or yahoo_pacer(max_requests_per_s, clock, sleep)

    def _profiles(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult:
        got, failed = self._each(tickers, self._profile_one, "profile")
        frame = profiles_frame(got.values(), tickers, fetched_at)
        return company_result(
            frame, tickers, failed=failed, notes={}, source=self.name, what="profiles"
        )

    def _fundamentals(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult:
        got, failed = self._each(tickers, self._statements_one, "statements")
        parts = {
            key: long for ticker_parts, _ in got.values() for key, long in ticker_parts.items()
        }
        notes = {t: note for t, (_, note) in got.items() if note}
        frame = fundamentals_frame(parts, tickers, fetched_at)
        return company_result(
            frame, tickers, failed=failed, notes=notes, source=self.name, what="statements"
        )

    def _each(
        self, tickers: list[str], fetch: Callable[[str], T], what: str
    ) -> tuple[dict[str, T], dict[str, str]]:
        """`fetch` every ticker under the retry policy; results and failure reasons."""

        def one(symbol: str) -> tuple[str, T | None, str]:
            try:
                value = self.retry.call(
                    lambda _: fetch(symbol),
                    retry_on=is_retryable,
                    sleep=self.sleep,
                    what=f"yfinance {what} {symbol}",
                )
                return symbol, value, ""
            except RetriesExhausted as exc:
                error = exc.error
                kind = "rate limited" if is_rate_limit(error) else "network error"
                detail = (
                    error.reasons[symbol]
                    if isinstance(error, TickersRateLimited)
                    else f"{type(error).__name__}: {error}"
                )
                return symbol, None, f"{kind} after {exc.attempts} attempt(s): {detail}"
            except NoCompanyData as exc:
                return symbol, None, f"no {what}: {exc}"
            except Exception as exc:  # noqa: BLE001 - one ticker's fault never stops the others
                return symbol, None, f"{what} error: {type(exc).__name__}: {exc}"

        with ThreadPoolExecutor(max_workers=min(self.threads, max(1, len(tickers)))) as pool:
            outcomes = list(pool.map(one, tickers))
        got = {t: v for t, v, reason in outcomes if not reason and v is not None}
        failed = {t: reason for t, _, reason in outcomes if reason}
        return got, failed

    def _profile_one(self, symbol: str) -> dict[str, Any]:
        self.limiter.acquire(INFO_REQUESTS)
        with capture_yf_log(this_thread=True) as logged:
            info = self.ticker(symbol).info or {}
        _raise_if_limited(symbol, logged.messages)
        if not any(info.get(k) for k in ("quoteType", "longName", "shortName")):
            raise NoCompanyData(
                _last(logged.messages) or "Yahoo returned no profile (unknown or delisted ticker)"
            )
        return profile_row(symbol, info)

    def _statements_one(self, symbol: str) -> tuple[dict[tuple[str, str, str], pd.DataFrame], str]:
        ticker = self.ticker(symbol)  # a fresh object per attempt: yfinance caches failures
        parts: dict[tuple[str, str, str], pd.DataFrame] = {}
        with capture_yf_log(this_thread=True) as logged:
            for (statement, frequency), attr in STATEMENT_ATTRS.items():
                self.limiter.acquire(1)
                wide = getattr(ticker, attr)
                parts[(symbol, statement, frequency)] = statement_long(wide)
        _raise_if_limited(symbol, logged.messages)
        empty = [f"{f} {s}" for (_, s, f), long in parts.items() if long.empty]
        if len(empty) == len(parts):
            raise NoCompanyData(
                _last(logged.messages)
                or "Yahoo returned no statements (unknown ticker, not covered, or a fund)"
            )
        return parts, (f"no {', '.join(empty)} statement(s)" if empty else "")


def _raise_if_limited(symbol: str, messages: list[str]) -> None:
    limited = [m for m in messages if is_rate_limit(m)]
    if limited:
        raise TickersRateLimited({symbol: limited[-1]})


def _last(messages: list[str]) -> str:
    """The last logged message, short: yfinance appends the URL and Yahoo's JSON answer."""
    if not messages:
        return ""
    message = messages[-1].strip()
    described = _DESCRIPTION.search(message)
    if described:
        return f"{message.split(' for url', 1)[0]}: {described.group(1)}"
    return message[:300]
