"""Alpha Vantage daily series over plain urllib (optional, off by default): gap filling."""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from memwise_assets.compute.http import (
    HttpRefused,
    HttpStatus,
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    bounded_get,
)
from memwise_assets.compute.prices.calendar import trading_days
from memwise_assets.compute.prices.clean import clean_and_assemble
from memwise_assets.compute.prices.schema import (
    BAR_COLUMNS,
    FetchResult,
    PriceSource,
    PriceSourceError,
    TickerReport,
    check_range,
    normalize_tickers,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
# A full daily history is a few MB of JSON; past this a response is refused.
MAX_RESPONSE_BYTES = 64 << 20
REQUEST_DEADLINE_S = 120.0
ADJUSTED = "TIME_SERIES_DAILY_ADJUSTED"
UNADJUSTED = "TIME_SERIES_DAILY"
FIELDS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjusted close": "adj_close",
    "volume": "volume",
}


@dataclass(frozen=True)
class Series:
    """Which daily series a request asks for: endpoint and output size."""

    function: str = ADJUSTED
    outputsize: str = "full"

    def fallback(self, error: AlphaVantageError) -> Series | None:
        """The next series to try after a premium-only answer, or None when there is none."""
        if error.kind != "premium":
            return None
        if self.function == ADJUSTED:
            # The adjusted series went premium-only in 2023: the raw one still serves.
            return replace(self, function=UNADJUSTED)
        if self.outputsize == "full":
            # Free keys only get the latest 100 days of the raw series.
            return replace(self, outputsize="compact")
        return None

    def note(self, asked: Series) -> str:
        """What a frame of this series lacks compared with the `asked` one."""
        notes = []
        if self.function != asked.function:
            notes.append(f"{UNADJUSTED}: adj_close = close")
        if self.outputsize != asked.outputsize:
            notes.append("compact: latest 100 days only")
        return "; ".join(notes)


def _retryable(error: BaseException) -> bool:
    return isinstance(error, AlphaVantageError) and error.kind in ("rate_limit", "network")


class AlphaVantageError(RuntimeError):
    """One request's failure, with `kind` in: unknown, rate_limit, quota, premium, http, network."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def parse_daily_json(payload: dict[str, Any]) -> pd.DataFrame:
    """An Alpha Vantage daily payload -> raw columns date, open..volume; AlphaVantageError else."""
    if "Error Message" in payload:
        raise AlphaVantageError("unknown", str(payload["Error Message"]))
    series_key = next((k for k in payload if k.startswith("Time Series")), None)
    if series_key is None:
        text = str(payload.get("Note") or payload.get("Information") or payload)[:300]
        low = text.lower()
        # Order matters: every note advertises premium plans, and the old per-minute note
        # also mentions the daily cap.
        if any(m in low for m in ("spreading out", "per second", "per minute", "frequency")):
            raise AlphaVantageError("rate_limit", text)
        if "per day" in low or "daily" in low:
            raise AlphaVantageError("quota", text)
        if "premium" in low:
            raise AlphaVantageError("premium", text)
        if "rate limit" in low or "Note" in payload:
            raise AlphaVantageError("rate_limit", text)
        raise AlphaVantageError("unknown", f"unexpected response: {text}")
    series = payload[series_key] or {}
    frame = pd.DataFrame.from_dict(series, orient="index")
    # Keys look like "1. open", "5. adjusted close": keep the words after the number.
    frame.columns = [str(c).split(". ", 1)[-1].strip().lower() for c in frame.columns]
    out = pd.DataFrame({"date": pd.to_datetime(frame.index, errors="coerce", format="%Y-%m-%d")})
    for key, col in FIELDS.items():
        values = frame[key] if key in frame.columns else pd.Series(np.nan, index=frame.index)
        out[col] = pd.to_numeric(values, errors="coerce").to_numpy("float64")
    return out


class AlphaVantageSource(PriceSource):
    """Alpha Vantage daily bars, paced to `calls_per_minute` (free tier: 5), one call per ticker.

    Optional and off by default: 66 tickers take ~13 minutes on the free tier. Rate-limit
    notes are retried after `rate_limit_wait_s`; a daily quota stops the remaining tickers;
    a premium-only adjusted endpoint falls back to TIME_SERIES_DAILY (adj_close = close) for
    the rest of that fetch, never for the source's later fetches.
    """

    name = "alphavantage"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        calls_per_minute: float = 5.0,
        function: str = ADJUSTED,
        outputsize: str = "full",
        retries: int = 2,
        rate_limit_wait_s: float = 60.0,
        timeout_s: float = 30.0,
        deadline_s: float = REQUEST_DEADLINE_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not api_key:
            raise ValueError("AlphaVantageSource needs an API key (e.g. from ALPHAVANTAGE_API_KEY)")
        if function not in (ADJUSTED, UNADJUSTED):
            raise ValueError(f"function must be {ADJUSTED} or {UNADJUSTED}; got {function!r}")
        self._api_key = api_key
        self.base_url = base_url
        self.series = Series(function, outputsize)
        self.retry = RetryPolicy(
            retries=retries, base_s=rate_limit_wait_s, factor=1.0, cap_s=rate_limit_wait_s
        )
        self.timeout_s, self.deadline_s = timeout_s, deadline_s
        self.sleep = sleep
        self.limiter = RateLimiter(calls_per_minute / 60.0, burst=1, clock=clock, sleep=sleep)
        self.calls = 0

    def __repr__(self) -> str:  # never show the key
        return f"AlphaVantageSource(base_url={self.base_url!r}, function={self.series.function!r})"

    def _get(self, series: Series, symbol: str) -> dict[str, Any]:
        params = {
            "function": series.function,
            "symbol": symbol,
            "outputsize": series.outputsize,
            "datatype": "json",
            "apikey": self._api_key,
        }
        url = f"{self.base_url}?{urllib.parse.urlencode(params)}"
        self.limiter.acquire(1)
        self.calls += 1
        chunks: list[bytes] = []
        try:
            # Redirects only to the configured host, a size cap, an overall deadline.
            bounded_get(
                url,
                chunks.append,
                headers={"User-Agent": "memwise/0.1"},
                cap=MAX_RESPONSE_BYTES,
                deadline_s=self.deadline_s,
                timeout_s=self.timeout_s,
            )
            return json.loads(b"".join(chunks))
        except HttpStatus as exc:
            kind = "rate_limit" if exc.status == 429 else "http"
            raise AlphaVantageError(kind, f"HTTP {exc.status} {exc.reason}") from None
        except HttpRefused as exc:
            raise AlphaVantageError("http", f"Alpha Vantage response refused: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise AlphaVantageError("network", f"cannot reach Alpha Vantage: {exc}") from None
        except ValueError as exc:
            raise AlphaVantageError("http", f"response is not JSON: {exc}") from None

    def fetch_one(self, symbol: str) -> tuple[pd.DataFrame, str]:
        """All daily bars Alpha Vantage has for one symbol, and a note; AlphaVantageError."""
        raw, series = self._fetch_series(symbol, self.series)
        return raw, series.note(self.series)

    def _fetch_series(self, symbol: str, series: Series) -> tuple[pd.DataFrame, Series]:
        """Bars of `series` (or of its fallbacks after premium answers) and the series used."""
        while True:
            try:
                raw = self.retry.call(
                    lambda _, s=series: parse_daily_json(self._get(s, symbol)),
                    retry_on=_retryable,
                    sleep=self.sleep,
                    what=f"Alpha Vantage {symbol}",
                )
                return raw, series
            except RetriesExhausted as exc:
                raise exc.error from None
            except AlphaVantageError as exc:
                fallback = series.fallback(exc)
                if fallback is None:
                    raise
                log.warning("Alpha Vantage %s is premium; trying %s", series, fallback)
                series = fallback

    def _fetch(self, tickers: list[str], start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        parts: list[pd.DataFrame] = []
        failed: dict[str, str] = {}
        notes: dict[str, str] = {}
        # A fallback found for one ticker serves the rest of this fetch (a premium answer
        # costs a paced call); the source itself keeps the series it was configured with.
        series = self.series
        for i, t in enumerate(tickers):
            try:
                raw, series = self._fetch_series(t, series)
            except AlphaVantageError as exc:
                failed[t] = f"{exc.kind}: {exc}"
                if exc.kind == "quota":
                    # The daily quota will not come back within this run: stop asking.
                    for rest in tickers[i + 1 :]:
                        failed[rest] = f"quota: skipped after the daily quota was hit: {exc}"
                    break
                continue
            raw.insert(0, "symbol", t)
            parts.append(raw)
            notes[t] = series.note(self.series)
        raw_all = pd.concat(parts, ignore_index=True) if parts else _empty_raw()
        kinds = {r.split(":", 1)[0] for r in failed.values()}
        hint = ", ".join(sorted(kinds)) if kinds else ""
        return clean_and_assemble(
            raw_all, tickers, start, end, failed=failed, notes=notes, source=self.name,
            all_failed_hint=hint,
        )  # fmt: skip

    def fill_gaps(
        self, frame: pd.DataFrame, tickers: Iterable[str] | str, start: object, end: object
    ) -> FetchResult:
        """Add Alpha Vantage bars for (ticker, trading day) pairs missing from `frame`.

        Rows already in `frame` are never replaced. The report says per ticker how many
        missing days were filled; only tickers with gaps cost a request.
        """
        symbols = normalize_tickers(tickers)
        start_ts, end_ts = check_range(start, end)
        days = trading_days(start_ts, end_ts)
        have = frame[["symbol", "date"]].astype({"symbol": str})
        in_range = (have["date"] >= start_ts) & (have["date"] < end_ts)
        present = have[in_range].groupby("symbol")["date"].nunique()
        gaps = {t: len(days) - int(present.get(t, 0)) for t in symbols}
        wanted = [t for t in symbols if gaps[t] > 0]
        report: dict[str, TickerReport] = {}
        fill = frame.iloc[:0]
        if wanted:
            try:
                fetched = self._fetch(wanted, start_ts, end_ts)
                fill, av_report = fetched.frame, fetched.report
            except PriceSourceError as exc:
                av_report = {t: TickerReport(t, "failed", reason=str(exc)) for t in wanted}
            keys = pd.MultiIndex.from_frame(have)
            fill_keys = pd.MultiIndex.from_arrays([fill["symbol"].astype(str), fill["date"]])
            fill = fill[~fill_keys.isin(keys)]
        filled = fill["symbol"].astype(str).value_counts()
        for t in symbols:
            n = int(filled.get(t, 0))
            if gaps[t] == 0:
                report[t] = TickerReport(t, "ok", reason="no gaps")
                continue
            status = "ok" if n else ("failed" if av_report[t].status == "failed" else "empty")
            reason = f"filled {n} of {gaps[t]} missing trading days"
            if av_report[t].reason:
                reason += f"; {av_report[t].reason}"
            issues = {"filled": n, "still_missing": gaps[t] - n}
            report[t] = TickerReport(t, status, rows=n, reason=reason, issues=issues)
        combined = _concat_bars([frame, fill], symbols)
        return FetchResult(frame=combined, report=report, source=f"{self.name}:fill_gaps")


def _concat_bars(frames: list[pd.DataFrame], tickers: list[str]) -> pd.DataFrame:
    cats = sorted({*tickers, *(s for f in frames for s in f["symbol"].astype(str).unique())})
    out = pd.concat(
        [f.loc[:, list(BAR_COLUMNS)].astype({"symbol": str}) for f in frames], ignore_index=True
    )
    out["symbol"] = pd.Categorical(out["symbol"], categories=cats)
    return out.sort_values(["symbol", "date"], kind="stable", ignore_index=True)


def _empty_raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype=str),
            "date": pd.Series([], dtype="datetime64[ns]"),
            **{c: pd.Series([], dtype="float64") for c in FIELDS.values()},
        }
    )
