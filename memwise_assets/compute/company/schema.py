"""The company tables' contracts: profile and long-format fundamentals columns and dtypes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

# Column -> the yfinance 1.x `Ticker.info` keys it is read from, first present wins.
PROFILE_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("longName", "shortName"),
    "quote_type": ("quoteType",),
    "sector": ("sector",),
    "industry": ("industry",),
    "exchange": ("exchange",),
    "exchange_name": ("fullExchangeName",),
    "currency": ("currency",),
    "financial_currency": ("financialCurrency",),
    "country": ("country",),
    "market_cap": ("marketCap",),
    "shares_outstanding": ("sharesOutstanding", "impliedSharesOutstanding"),
    "float_shares": ("floatShares",),
    "average_volume": ("averageVolume",),
    "price": ("currentPrice", "regularMarketPrice"),
    "first_trade_date": ("firstTradeDateMilliseconds",),
    "employees": ("fullTimeEmployees",),
}
# Repeating labels are categories; counts are nullable integers (Yahoo leaves gaps); money
# stays float64 (a market cap of 3.5e12 in float32 is off by ~1e5).
PROFILE_DTYPES: dict[str, str] = {
    "ticker": "category",
    "name": "string",
    "quote_type": "category",
    "sector": "category",
    "industry": "category",
    "exchange": "category",
    "exchange_name": "category",
    "currency": "category",
    "financial_currency": "category",
    "country": "category",
    "market_cap": "float64",
    "shares_outstanding": "Int64",
    "float_shares": "Int64",
    "average_volume": "Int64",
    "price": "float64",
    "first_trade_date": "datetime64[ns]",
    "employees": "Int64",
    "fetched_at": "datetime64[ns]",
}
PROFILE_COLUMNS: tuple[str, ...] = tuple(PROFILE_DTYPES)

# (statement, frequency) -> the yfinance `Ticker` attribute holding that frame.
STATEMENT_ATTRS: dict[tuple[str, str], str] = {
    ("income", "quarterly"): "quarterly_income_stmt",
    ("income", "annual"): "income_stmt",
    ("balance_sheet", "quarterly"): "quarterly_balance_sheet",
    ("balance_sheet", "annual"): "balance_sheet",
    ("cash_flow", "quarterly"): "quarterly_cash_flow",
    ("cash_flow", "annual"): "cash_flow",
}
STATEMENTS: tuple[str, ...] = ("income", "balance_sheet", "cash_flow")
FREQUENCIES: tuple[str, ...] = ("quarterly", "annual")
FUNDAMENTAL_COLUMNS: tuple[str, ...] = (
    "ticker",
    "statement",
    "line_item",
    "period_end",
    "frequency",
    "value",
    "fetched_at",
)


def profile_row(ticker: str, info: Mapping[str, Any]) -> dict[str, Any]:
    """One profile row from a yfinance `info` dict (missing keys become nulls)."""
    row: dict[str, Any] = {"ticker": ticker}
    for column, keys in PROFILE_FIELDS.items():
        row[column] = next((info[k] for k in keys if info.get(k) not in (None, "")), None)
    try:
        ms = row["first_trade_date"]
        row["first_trade_date"] = (
            None if ms is None else pd.Timestamp(int(ms), unit="ms").normalize()
        )
    except (TypeError, ValueError, OverflowError):
        row["first_trade_date"] = None  # one odd field never costs the ticker its profile
    return row


def profiles_frame(
    rows: Iterable[Mapping[str, Any]], tickers: list[str], fetched_at: pd.Timestamp
) -> pd.DataFrame:
    """Profile rows as the contract frame: one row per ticker in `tickers` order."""
    frame = pd.DataFrame(list(rows), columns=[c for c in PROFILE_COLUMNS if c != "fetched_at"])
    frame["fetched_at"] = utc_naive(fetched_at)
    # Yahoo's numbers are not always numbers (a "N/A", a float share count): coerce them.
    for column, dtype in PROFILE_DTYPES.items():
        if dtype == "Int64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").round()
        elif dtype == "float64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = frame.astype({c: t for c, t in PROFILE_DTYPES.items() if t != "category"})
    for column in [c for c, t in PROFILE_DTYPES.items() if t == "category"]:
        frame[column] = frame[column].astype("string").astype("category")
    frame["ticker"] = frame["ticker"].cat.set_categories(tickers)
    return frame.sort_values("ticker", ignore_index=True)[list(PROFILE_COLUMNS)]


def statement_long(wide: pd.DataFrame | None) -> pd.DataFrame:
    """One yfinance statement frame (line items x period ends) as long rows without NaNs."""
    if wide is None or wide.empty:
        return pd.DataFrame(columns=["line_item", "period_end", "value"])
    values = wide.to_numpy(dtype="float64", na_value=np.nan).ravel()
    ends = pd.DatetimeIndex(wide.columns).normalize().to_numpy("datetime64[ns]")
    items = np.repeat(np.asarray(wide.index, dtype=object), wide.shape[1])
    periods = np.tile(ends, len(wide))
    keep = ~np.isnan(values)
    return pd.DataFrame(
        {"line_item": items[keep], "period_end": periods[keep], "value": values[keep]}
    )


def fundamentals_frame(
    parts: Mapping[tuple[str, str, str], pd.DataFrame],
    tickers: list[str],
    fetched_at: pd.Timestamp,
) -> pd.DataFrame:
    """Long fundamentals from (ticker, statement, frequency) -> `statement_long` parts."""
    pieces = []
    for (ticker, statement, frequency), long in parts.items():
        if len(long):
            pieces.append(long.assign(ticker=ticker, statement=statement, frequency=frequency))
    if pieces:
        frame = pd.concat(pieces, ignore_index=True)
    else:
        frame = pd.DataFrame({c: [] for c in FUNDAMENTAL_COLUMNS if c != "fetched_at"})
    frame["fetched_at"] = utc_naive(fetched_at)
    frame = frame.astype({"value": "float64", "period_end": "datetime64[ns]"})
    frame["ticker"] = pd.Categorical(frame["ticker"], categories=tickers)
    frame["statement"] = pd.Categorical(frame["statement"], categories=list(STATEMENTS))
    frame["frequency"] = pd.Categorical(frame["frequency"], categories=list(FREQUENCIES))
    frame["line_item"] = frame["line_item"].astype(str).astype("category")
    frame = frame.sort_values(
        ["ticker", "statement", "frequency", "line_item", "period_end"], ignore_index=True
    )
    return frame[list(FUNDAMENTAL_COLUMNS)]


def utc_naive(ts: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC without its zone (how every memwise table stores instants)."""
    ts = pd.Timestamp(ts)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).as_unit("ns")
