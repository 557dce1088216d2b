"""Yahoo Finance through `yfinance.download`: batched, paced, retried, failures per ticker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from memwise_assets.compute.http import (
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    TickersRateLimited,
    capture_yf_errors,
    is_network_error,
    is_rate_limit,
    is_retryable,
    yahoo_pacer,
)
from memwise_assets.compute.prices.calendar import trading_days
from memwise_assets.compute.prices.clean import assemble, clean_and_assemble, ticker_codes
from memwise_assets.compute.prices.schema import FetchResult, PriceSource, empty_bars

log = logging.getLogger(__name__)

# yfinance 1.x `download(..., group_by="column")` columns: MultiIndex (Price, Ticker).
YF_FIELDS: dict[str, str] = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
# What every `yfinance.download` call asks for: unadjusted daily bars in one column-wise
# frame (the cleaner reads that layout), no dividends/splits columns, no progress bar.
DOWNLOAD_OPTIONS: dict[str, object] = {
    "interval": "1d",
    "group_by": "column",
    "auto_adjust": False,
    "actions": False,
    "threads": True,
    "progress": False,
    "ignore_tz": True,
    "multi_level_index": True,
}
NO_DATA = "no data returned: all-NaN columns (unknown ticker, delisted, or not listed in the range)"


def _levels(columns: pd.MultiIndex) -> tuple[int, int]:
    """(price level, ticker level) of yfinance's two-level columns, by name or by content."""
    names = [str(n).lower() if n is not None else "" for n in columns.names]
    if "price" in names and "ticker" in names:
        return names.index("price"), names.index("ticker")
    first = set(map(str, columns.get_level_values(0)))
    return (0, 1) if "Close" in first else (1, 0)


def reshape_yf_frame(
    raw: pd.DataFrame | None, tickers: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """yfinance 1.x wide frame -> raw long bars for `tickers`, plus the tickers with no data.

    Accepts the (Price, Ticker) MultiIndex of `group_by="column"` (either level order), a
    single-level frame for one ticker (`multi_level_index=False`), a missing `Adj Close`
    (auto_adjust=True: filled from Close later) and the empty frame of an all-failed batch.
    Rows where a ticker has no values at all (dates only other tickers traded) are dropped.
    """
    tickers = list(tickers)
    if raw is None or raw.shape[0] == 0 or raw.shape[1] == 0:
        return _empty_long(tickers), tickers
    if isinstance(raw.columns, pd.MultiIndex):
        price_level, ticker_level = _levels(raw.columns)
    elif len(tickers) == 1:
        raw = pd.concat({tickers[0]: raw}, axis=1)  # one ticker without the MultiIndex
        price_level, ticker_level = 1, 0
    else:
        raise ValueError(
            "expected yfinance columns as a (Price, Ticker) MultiIndex for several tickers; "
            f"got single-level columns {list(raw.columns)[:8]}"
        )
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # keep the exchange-local day
    dates = index.normalize().to_numpy("datetime64[ns]")
    n, k = len(dates), len(tickers)
    present = {str(v) for v in raw.columns.get_level_values(price_level)}
    values: dict[str, np.ndarray] = {}
    for field, col in YF_FIELDS.items():
        if field not in present:
            values[col] = np.full(n * k, np.nan)
            continue
        wide = raw.xs(field, axis=1, level=price_level)
        wide.columns = [str(c).upper() for c in wide.columns]
        wide = wide.loc[:, ~wide.columns.duplicated()].reindex(columns=tickers)
        # Ticker-major ravel: rows come out grouped by ticker, then by date.
        values[col] = wide.to_numpy(dtype="float64", na_value=np.nan).T.ravel()
    del ticker_level
    long = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(np.repeat(np.arange(k), n), categories=tickers),
            "date": np.tile(dates, k),
            **values,
        }
    )
    filler = np.isnan(long[["open", "high", "low", "close", "volume"]].to_numpy()).all(axis=1)
    long = long[~filler]
    has_rows = np.bincount(long["symbol"].cat.codes.to_numpy(), minlength=k) > 0
    missing = [t for t, ok in zip(tickers, has_rows, strict=True) if not ok]
    return long.reset_index(drop=True), missing


def _empty_long(tickers: list[str]) -> pd.DataFrame:
    frame = empty_bars(tickers).astype({"volume": "float64"})
    frame["symbol"] = pd.Categorical([], categories=tickers)
    return frame


def _default_download(*args: Any, **kwargs: Any) -> pd.DataFrame | None:
    import yfinance  # imported late: only the online source needs it

    return yfinance.download(*args, **kwargs)


class YFinancePriceSource(PriceSource):
    """Yahoo Finance daily bars: one `yfinance.download` call per batch of tickers.

    Paced by the process's Yahoo bucket at `max_requests_per_s` (a batch of n tickers costs
    n requests: yfinance fetches each ticker's chart separately; a fake `clock` gets a bucket
    of its own); rate limits (YFRateLimitError, HTTP 429, raised or logged per ticker) are
    retried with exponential backoff by the shared `RetryPolicy`. Tickers whose
    columns come back all-NaN are reported failed; PriceSourceError only if all failed.
    """

    name = "yfinance"

    def __init__(
        self,
        *,
        batch_size: int = 10,
        max_requests_per_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 2.0,
        timeout_s: float = 20.0,
        download: Callable[..., pd.DataFrame | None] | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0; got {retries}")
        self.batch_size = batch_size
        self.retry = RetryPolicy(retries=retries, base_s=backoff_s)
        self.timeout_s = timeout_s
        self.download = download or _default_download
        self.sleep = sleep or time.sleep
        self.limiter = limiter or yahoo_pacer(max_requests_per_s, clock, sleep)
        self.calls = 0

    def _call(
        self, batch: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame | None:
        self.limiter.acquire(len(batch))
        self.calls += 1
        return self.download(
            batch,
            start=start.strftime("%Y-%m-%d"),
            end=end.strftime("%Y-%m-%d"),
            timeout=self.timeout_s,
            **DOWNLOAD_OPTIONS,
        )

    def _fetch_batch(
        self, batch: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> tuple[list[pd.DataFrame], dict[str, str]]:
        """Download one batch under the retry policy; return long parts and failure reasons.

        A retry asks again only for the tickers yfinance logged as rate limited.
        """
        parts: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        todo = list(batch)
        tries = 0

        def attempt(i: int) -> None:
            nonlocal todo, tries
            tries = i + 1
            with capture_yf_errors() as logged:
                raw = self._call(todo, start, end)
            long, missing = reshape_yf_frame(raw, todo)
            parts.append(long)
            limited = {t: logged[t] for t in missing if is_rate_limit(logged.get(t, ""))}
            failed.update({t: logged.get(t) or NO_DATA for t in missing if t not in limited})
            if limited:
                todo = list(limited)
                raise TickersRateLimited(limited)

        try:
            self.retry.call(
                attempt, retry_on=is_retryable, sleep=self.sleep, what=f"yfinance {len(batch)}"
            )
        except RetriesExhausted as exc:
            if isinstance(exc.error, TickersRateLimited):
                for t, reason in exc.error.reasons.items():
                    failed[t] = f"rate limited after {exc.attempts} attempt(s): {reason}"
            else:
                kind = "rate limited" if is_rate_limit(exc.error) else "download error"
                failed.update({t: f"{kind} {exc}" for t in todo})
        except Exception as exc:  # noqa: BLE001 - any download error is reported per ticker
            reason = f"download error after {tries} attempt(s): {type(exc).__name__}: {exc}"
            failed.update({t: reason for t in todo})
        return parts, failed

    def _fetch(self, tickers: list[str], start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        if not len(trading_days(start, end)):
            notes = {t: "no trading days in range" for t in tickers}
            return assemble(
                empty_bars(tickers), tickers, start, end, issues={}, failed={}, notes=notes,
                source=self.name,
            )  # fmt: skip
        parts: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        for i in range(0, len(tickers), self.batch_size):
            batch_parts, batch_failed = self._fetch_batch(
                tickers[i : i + self.batch_size], start, end
            )
            parts += batch_parts
            failed.update(batch_failed)
        raw = _concat_long(parts, tickers)
        return clean_and_assemble(
            raw, tickers, start, end, failed=failed, source=self.name,
            all_failed_hint=likely_cause(failed.values()),
        )  # fmt: skip


def _concat_long(parts: list[pd.DataFrame], tickers: list[str]) -> pd.DataFrame:
    if not parts:
        return _empty_long(tickers)
    # Parts carry their batch's categories; re-code against the whole universe.
    return pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(
                np.concatenate([ticker_codes(p["symbol"], tickers) for p in parts]),
                categories=tickers,
            ),
            **{
                c: np.concatenate([p[c].to_numpy() for p in parts])
                for c in ("date", "open", "high", "low", "close", "adj_close", "volume")
            },
        }
    )


def likely_cause(reasons: Sequence[str] | Any) -> str:
    """The likely cause when every ticker failed: rate limit, no network, or unknown symbols."""
    reasons = list(reasons)
    if any(is_rate_limit(r) for r in reasons):
        return (
            "rate limited by Yahoo (HTTP 429 / YFRateLimitError): wait a few minutes "
            "or lower max_requests_per_s"
        )
    if any(is_network_error(r) for r in reasons):
        return "no network: Yahoo Finance could not be reached"
    if reasons and all(r == NO_DATA for r in reasons):
        return (
            "no network, or all tickers unknown/delisted "
            "(Yahoo returned only empty or all-NaN data)"
        )
    return "all tickers unknown or delisted in the range (check the symbols)"
