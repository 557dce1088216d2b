"""The bars contract every price source returns: columns, dtypes, validation, fetch report."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from memwise_assets.compute.prices.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    to_day,
    trading_days,
)

BAR_COLUMNS: tuple[str, ...] = (
    "symbol",
    "date",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
)
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close")
# Prices stay float64: adjusted closes are ratios of small numbers and float32 loses cents
# above ~$100k (BRK-A); 66 tickers x 10 years is ~7 MB either way. Volume is int64 because
# share counts are integers and exceed float32/int32 for the busiest names.
BAR_DTYPES: dict[str, str] = {
    **{c: "float64" for c in PRICE_COLUMNS},
    "volume": "int64",
}
# A stored bar: 8 columns of 8 bytes (the symbol is a category code).
STORED_ROW_BYTES = 8 * 8
# No stock trades 1e15 shares a day (the busiest trade ~1e10); past it a volume is refused,
# never wrapped: int64 holds it, and sums over 9,000 rows of such volumes (weeks, years of
# aggregates) stay within int64 too.
MAX_VOLUME = 1e15
TICKER_PATTERN = re.compile(r"^[A-Z0-9.\-^=]{1,20}$")
MAX_RANGE_DAYS = 366 * 60

Status = Literal["ok", "failed", "empty"]


class PriceSourceError(RuntimeError):
    """Raised when a fetch returned nothing usable for any requested ticker."""


@dataclass
class TickerReport:
    """What one ticker's fetch gave: status, rows kept, why not, and the faults repaired."""

    symbol: str
    status: Status
    rows: int = 0
    reason: str = ""
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    # Counts of faults found and handled, e.g. {"duplicates": 1, "zero_volume": 2}.
    issues: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able form (dates as ISO strings)."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "rows": self.rows,
            "reason": self.reason,
            "first_date": None if self.first_date is None else self.first_date.date().isoformat(),
            "last_date": None if self.last_date is None else self.last_date.date().isoformat(),
            **{f"issue_{k}": v for k, v in sorted(self.issues.items())},
        }


@dataclass
class FetchResult:
    """A bars frame in the contract layout plus one report per requested ticker."""

    frame: pd.DataFrame
    report: dict[str, TickerReport]
    source: str = ""

    @property
    def failed(self) -> list[str]:
        """Tickers the source could not deliver (unknown, bad file, download failure)."""
        return [t for t, r in self.report.items() if r.status == "failed"]

    @property
    def empty(self) -> list[str]:
        """Tickers the source knows but that have no bars in the range (not listed then)."""
        return [t for t, r in self.report.items() if r.status == "empty"]

    @property
    def ok(self) -> list[str]:
        """Tickers with at least one bar in the range."""
        return [t for t, r in self.report.items() if r.status == "ok"]

    def issue_totals(self) -> dict[str, int]:
        """Fault counts summed over tickers (duplicates resolved, rows skipped, ...)."""
        totals: dict[str, int] = {}
        for rep in self.report.values():
            for key, n in rep.issues.items():
                totals[key] = totals.get(key, 0) + n
        return dict(sorted(totals.items()))

    def summary(self) -> dict[str, object]:
        """Flat counts for run metadata: requested / returned / failed and the failed names."""
        return {
            "source": self.source,
            "tickers_requested": len(self.report),
            "tickers_returned": len(self.ok),
            "tickers_empty": len(self.empty),
            "tickers_failed": len(self.failed),
            "failed_tickers": self.failed,
            "rows": len(self.frame),
            **{f"issue_{k}": v for k, v in self.issue_totals().items()},
        }

    def report_frame(self) -> pd.DataFrame:
        """The per-ticker report as a table, one row per requested ticker."""
        return pd.DataFrame([r.as_dict() for r in self.report.values()])


class PriceSource(ABC):
    """One interface for every source: `fetch(tickers, start, end) -> FetchResult`."""

    name: str = "source"

    def fetch(self, tickers: Iterable[str] | str, start: object, end: object) -> FetchResult:
        """Bars for `tickers` on NYSE trading days in [start, end), with a per-ticker report."""
        symbols = normalize_tickers(tickers)
        start_ts, end_ts = check_range(start, end)
        return self._fetch(symbols, start_ts, end_ts)

    @abstractmethod
    def _fetch(self, tickers: list[str], start: pd.Timestamp, end: pd.Timestamp) -> FetchResult:
        """Fetch validated, upper-cased tickers for a validated range."""

    def input_bytes(self, tickers: Iterable[str] | str, start: object, end: object) -> int:
        """Bytes a fetch of these bars brings in: the step's input size for its estimate.

        Here the rows expected (tickers x trading days) at a stored row each; a source that
        reads more than it keeps (whole files) says so by overriding this.
        """
        symbols = normalize_tickers(tickers)
        start_ts, end_ts = check_range(start, end)
        days = len(trading_days(start_ts, end_ts))
        return len(symbols) * max(days, 1) * STORED_ROW_BYTES


def normalize_tickers(tickers: Iterable[str] | str) -> list[str]:
    """Upper-cased, stripped, de-duplicated tickers in request order; ValueError on bad input."""
    if isinstance(tickers, str):
        tickers = [t for t in re.split(r"[,\s]+", tickers) if t]
    out: list[str] = []
    for raw in tickers:
        if not isinstance(raw, str):
            raise ValueError(f"expected ticker strings; got {raw!r} ({type(raw).__name__})")
        ticker = raw.strip().upper()
        if not TICKER_PATTERN.match(ticker):
            raise ValueError(
                "expected tickers of 1-20 characters from A-Z 0-9 . - ^ = (e.g. 'AAPL', "
                f"'BRK-B', '^GSPC'); got {raw!r}"
            )
        if ticker not in out:
            out.append(ticker)
    if not out:
        raise ValueError("expected at least one ticker; got an empty list")
    return out


def check_range(start: object, end: object) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Validated [start, end) as midnight Timestamps; ValueError on reversed or absurd ranges."""
    start_ts, end_ts = to_day(start), to_day(end)  # type: ignore[arg-type]
    if end_ts <= start_ts:
        raise ValueError(
            f"expected start < end (end is exclusive); got start={start_ts.date()}, "
            f"end={end_ts.date()}"
        )
    if start_ts < CALENDAR_START or end_ts > CALENDAR_END:
        raise ValueError(
            f"expected dates within {CALENDAR_START.date()}..{CALENDAR_END.date()}; "
            f"got {start_ts.date()}..{end_ts.date()}"
        )
    if (end_ts - start_ts).days > MAX_RANGE_DAYS:
        raise ValueError(
            f"expected a range of at most {MAX_RANGE_DAYS // 366} years; "
            f"got {start_ts.date()}..{end_ts.date()}"
        )
    return start_ts, end_ts


def empty_bars(categories: Iterable[str] = ()) -> pd.DataFrame:
    """A zero-row frame with the contract's columns and dtypes."""
    cats = sorted(set(categories))
    return pd.DataFrame(
        {
            "symbol": pd.Categorical([], categories=cats),
            "date": pd.Series([], dtype="datetime64[ns]"),
            **{c: pd.Series([], dtype=t) for c, t in BAR_DTYPES.items()},
        }
    )


def bars_issues(frame: pd.DataFrame) -> dict[str, int]:
    """Counts of contract violations in a bars frame (for asset checks); no exceptions."""
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        return {"missing_columns": len(missing)}
    prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    o, h, lo, c = (prices[:, i] for i in range(4))
    with np.errstate(invalid="ignore"):
        ohlc_bad = (lo > np.minimum(o, c)) | (h < np.maximum(o, c)) | (lo > h)
        nonpositive = (prices <= 0).any(axis=1)
    volume = pd.to_numeric(frame["volume"], errors="coerce")
    volume_values = volume.to_numpy(dtype="float64", na_value=np.nan)
    return {
        "non_finite": int((np.isinf(prices).any(axis=1) | np.isinf(volume_values)).sum()),
        "duplicates": int(frame.duplicated(subset=["symbol", "date"]).sum()),
        "nan_close": int(np.isnan(c).sum()),
        "nan_price": int(np.isnan(prices).any(axis=1).sum()),
        "ohlc_inconsistent": int(ohlc_bad.sum()),
        "nonpositive_price": int(nonpositive.sum()),
        "negative_volume": int((volume < 0).sum()),
    }


def validate_bars(frame: pd.DataFrame, *, check_ohlc: bool = True) -> pd.DataFrame:
    """A normalized copy of a bars frame (dtypes, order, index); ValueError on contract breaks.

    Checks: all columns present, no NaN close, no duplicate (symbol, date), and (unless
    `check_ohlc=False`) low <= open, close <= high.
    """
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"bars need columns {', '.join(BAR_COLUMNS)}; missing {missing}; "
            f"got {list(frame.columns)}"
        )
    out = frame.loc[:, list(BAR_COLUMNS)].copy()
    dates = pd.to_datetime(out["date"])
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    out["date"] = dates.dt.normalize().astype("datetime64[ns]")
    if not isinstance(out["symbol"].dtype, pd.CategoricalDtype):
        out["symbol"] = pd.Categorical(out["symbol"].astype(str))
    for col in PRICE_COLUMNS:
        out[col] = out[col].astype("float64")
    problems = []
    issues = bars_issues(out)
    if issues["nan_close"]:
        problems.append(f"{issues['nan_close']} NaN close(s)")
    if issues["duplicates"]:
        dup = out[out.duplicated(subset=["symbol", "date"], keep=False)].head(3)
        pairs = [f"{s}@{d.date()}" for s, d in zip(dup["symbol"], dup["date"], strict=True)]
        problems.append(f"{issues['duplicates']} duplicate (symbol, date) rows, e.g. {pairs}")
    if check_ohlc and issues["ohlc_inconsistent"]:
        n_bad = issues["ohlc_inconsistent"]
        problems.append(f"{n_bad} rows with low > min(open, close) or high < max(open, close)")
    if issues["non_finite"]:
        problems.append(f"{issues['non_finite']} rows with an infinite price or volume")
    volume = out["volume"]
    if volume.isna().any():
        problems.append(f"{int(volume.isna().sum())} NaN volume(s)")
    elif volume.dtype.kind == "f" and (volume.abs() >= MAX_VOLUME).any():
        problems.append("volumes of 1e15 shares or more")
    if problems:
        raise ValueError(
            "bars expected unique (symbol, date) with finite OHLC; got " + "; ".join(problems)
        )
    out["volume"] = volume.astype("int64")
    out = out.sort_values(["symbol", "date"], kind="stable", ignore_index=True)
    return out


def issues_text(issues: Mapping[str, int]) -> str:
    """Readable one-line summary of a ticker's fault counts."""
    labels = {
        "duplicates": "duplicate dates resolved (kept last)",
        "duplicates_conflicting": "of them with differing values",
        "bad_price": "rows skipped for NaN/zero/negative prices",
        "non_finite_price": "rows skipped for an infinite price",
        "non_finite_volume": "rows skipped for an infinite volume or one of 1e15 shares or more",
        "bad_date": "rows skipped for unparsable or ambiguous dates",
        "unparsable_value": "rows skipped for a value that is not a plain number (e.g. 1,234)",
        "negative_volume": "rows skipped for negative volume",
        "off_calendar": "rows skipped on non-trading days",
        "zero_volume": "zero-volume days kept",
        "missing_volume": "missing volumes set to 0",
        "ohlc_repaired": "rows with high/low widened to cover open/close",
        "adj_close_from_close": "rows with adj_close taken from close",
        "missing_days": "trading days missing inside the listed span",
    }
    return "; ".join(f"{n} {labels.get(k, k)}" for k, n in issues.items() if n)
