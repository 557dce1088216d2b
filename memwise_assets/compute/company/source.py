"""The company-data source interface and its fetch result (per-ticker report as for prices)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

import pandas as pd

from memwise_assets.compute.prices import FetchResult, TickerReport, normalize_tickers


class CompanyDataError(RuntimeError):
    """Raised when a fetch returned nothing usable for any requested ticker."""


class CompanySource(ABC):
    """`fetch_profiles` and `fetch_fundamentals`, each a frame plus one report per ticker."""

    name: str = "source"

    def fetch_profiles(
        self, tickers: Iterable[str] | str, fetched_at: pd.Timestamp | None = None
    ) -> FetchResult:
        """One profile row per ticker (see `schema.PROFILE_DTYPES`)."""
        symbols = normalize_tickers(tickers)
        return self._profiles(symbols, _now(fetched_at))

    def fetch_fundamentals(
        self, tickers: Iterable[str] | str, fetched_at: pd.Timestamp | None = None
    ) -> FetchResult:
        """Quarterly and annual statements in long format (see `schema.FUNDAMENTAL_COLUMNS`)."""
        symbols = normalize_tickers(tickers)
        return self._fundamentals(symbols, _now(fetched_at))

    @abstractmethod
    def _profiles(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult: ...

    @abstractmethod
    def _fundamentals(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult: ...


def company_result(
    frame: pd.DataFrame,
    tickers: list[str],
    *,
    failed: Mapping[str, str],
    notes: Mapping[str, str],
    source: str,
    what: str,
) -> FetchResult:
    """The per-ticker report of a company fetch; `CompanyDataError` if every ticker failed."""
    if tickers and len(failed) == len(tickers):
        reasons = "; ".join(f"{t}: {r}" for t, r in list(failed.items())[:5])
        raise CompanyDataError(f"{source} returned no {what} for any of {len(tickers)} "
                               f"ticker(s): {reasons}")  # fmt: skip
    counts = frame["ticker"].astype(str).value_counts() if len(frame) else pd.Series(dtype=int)
    report: dict[str, TickerReport] = {}
    for t in tickers:
        if t in failed:
            report[t] = TickerReport(t, "failed", reason=failed[t])
            continue
        rows = int(counts.get(t, 0))
        report[t] = TickerReport(t, "ok" if rows else "empty", rows=rows, reason=notes.get(t, ""))
    return FetchResult(frame=frame, report=report, source=source)


def _now(fetched_at: pd.Timestamp | None) -> pd.Timestamp:
    return pd.Timestamp(fetched_at) if fetched_at is not None else pd.Timestamp.now(tz="UTC")
