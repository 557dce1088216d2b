"""When a statement figure becomes known, and daily rows that carry only known figures.

Yahoo's statements are not point in time: a figure for the quarter ending 2024-03-31 is
only public once the 10-Q is filed, weeks later. Each (ticker, period) gets an
`available_date`, the first day whose daily row may carry it:

- the day after the period's 10-Q/10-K filing date, where EDGAR data gives one (a filing
  accepted after 16:00 is not known at that day's close, so never the filing day itself);
- otherwise a conservative lag after the period end: 45 days for quarters (the SEC's
  10-Q deadline for large accelerated filers is 40), 90 for years (10-K: 60).

A row of date d carries the latest period with `available_date <= d`, never a later one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_LAGS_DAYS: dict[str, int] = {"quarterly": 45, "annual": 90}
# Yahoo labels periods by month end (2024-03-31) where a 52/53-week filer reports the
# actual last day (Apple: 2024-03-30): match a filing to a period within this many days.
PERIOD_MATCH_DAYS = 10
# (statement, line item) -> column of `daily_with_fundamentals`.
DEFAULT_ITEMS: dict[tuple[str, str], str] = {
    ("income", "TotalRevenue"): "revenue",
    ("income", "GrossProfit"): "gross_profit",
    ("income", "OperatingIncome"): "operating_income",
    ("income", "NetIncome"): "net_income",
    ("balance_sheet", "TotalAssets"): "total_assets",
    ("balance_sheet", "StockholdersEquity"): "stockholders_equity",
    ("balance_sheet", "CashAndCashEquivalents"): "cash",
    ("cash_flow", "OperatingCashFlow"): "operating_cash_flow",
    ("cash_flow", "FreeCashFlow"): "free_cash_flow",
}
FiledDates = pd.DataFrame | Mapping[tuple[str, Any], Any]


def filed_dates_frame(filed: FiledDates | None) -> pd.DataFrame:
    """(ticker, period_end) -> filed_date as a frame, from a frame or a mapping."""
    if filed is None:
        return pd.DataFrame({"ticker": [], "period_end": [], "filed_date": []}).astype(
            {"ticker": str, "period_end": "datetime64[ns]", "filed_date": "datetime64[ns]"}
        )
    if isinstance(filed, Mapping):
        filed = pd.DataFrame(
            [(t, p, f) for (t, p), f in filed.items()],
            columns=["ticker", "period_end", "filed_date"],
        )
    missing = {"ticker", "period_end", "filed_date"} - set(filed.columns)
    if missing:
        raise ValueError(
            "filed dates need columns ticker, period_end, filed_date; "
            f"missing {sorted(missing)} of {list(filed.columns)}"
        )
    out = pd.DataFrame(
        {
            "ticker": filed["ticker"].astype(str).str.upper(),
            "period_end": pd.to_datetime(filed["period_end"]).astype("datetime64[ns]"),
            "filed_date": pd.to_datetime(filed["filed_date"]).astype("datetime64[ns]"),
        }
    )
    return (
        out.dropna()
        .sort_values(["ticker", "period_end", "filed_date"])
        .drop_duplicates(
            ["ticker", "period_end"],
            keep="first",  # the original filing, not a later amendment
        )
    )


def filed_dates_from_sections(sections: pd.DataFrame) -> pd.DataFrame:
    """(ticker, period_end, filed_date) of 10-Q/10-K filings from `sec_filing_sections` rows."""
    forms = sections["form"].astype(str).str.upper().str.replace("/A", "", regex=False)
    rows = sections[forms.isin(["10-Q", "10-K"])]
    return filed_dates_frame(
        rows.rename(columns={"period_of_report": "period_end"})[
            ["ticker", "period_end", "filed_date"]
        ]
    )


def availability_dates(
    fundamentals: pd.DataFrame,
    filed: FiledDates | None = None,
    *,
    lags_days: Mapping[str, int] = DEFAULT_LAGS_DAYS,
) -> pd.DataFrame:
    """One row per (ticker, frequency, period_end): `available_date` and its `basis`.

    `basis` is "filed" (EDGAR filing date + 1 day) or "lag" (period end + the lag).
    """
    periods = (
        fundamentals[["ticker", "frequency", "period_end"]]
        .astype({"ticker": str, "frequency": str})
        .drop_duplicates()
        .sort_values("period_end", kind="stable", ignore_index=True)
    )
    unknown = set(periods["frequency"]) - set(lags_days)
    if unknown:
        raise ValueError(f"lags_days needs a lag for {sorted(unknown)}; got {dict(lags_days)}")
    lag = pd.to_timedelta(periods["frequency"].map(dict(lags_days)).astype("int64"), unit="D")
    periods["lag_date"] = periods["period_end"] + lag
    filings = filed_dates_frame(filed).rename(columns={"period_end": "filed_period"})
    matched = pd.merge_asof(
        periods,
        filings.sort_values("filed_period"),
        left_on="period_end",
        right_on="filed_period",
        by="ticker",
        direction="nearest",
        tolerance=pd.Timedelta(days=PERIOD_MATCH_DAYS),
    )
    # A filing dated before its period ended is bad data: fall back to the lag.
    use_filed = matched["filed_date"].notna() & (matched["filed_date"] > matched["period_end"])
    matched["available_date"] = np.where(
        use_filed, matched["filed_date"] + pd.Timedelta(days=1), matched["lag_date"]
    )
    matched["available_date"] = matched["available_date"].astype("datetime64[ns]")
    matched["basis"] = pd.Categorical(np.where(use_filed, "filed", "lag"), ["filed", "lag"])
    return matched[["ticker", "frequency", "period_end", "available_date", "basis"]]


def join_fundamentals(
    daily: pd.DataFrame,
    fundamentals: pd.DataFrame,
    filed: FiledDates | None = None,
    *,
    frequency: str = "quarterly",
    items: Mapping[tuple[str, str], str] = DEFAULT_ITEMS,
    lags_days: Mapping[str, int] = DEFAULT_LAGS_DAYS,
) -> pd.DataFrame:
    """Daily rows (symbol, date, ...) with each symbol's latest figures known on that date.

    Adds one float64 column per `items` entry plus `period_end`, `available_date` and
    `availability` (filed | lag) of the period the row carries; NaN/NaT before any period
    of the symbol is available. Rows keep the order and columns of `daily`.
    """
    for frame, cols, what in (
        (daily, ("symbol", "date"), "daily rows"),
        (fundamentals, ("ticker", "statement", "line_item", "period_end", "frequency", "value"),
         "fundamentals"),
    ):  # fmt: skip
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} need columns {', '.join(cols)}; missing {missing}")
    chosen = fundamentals[fundamentals["frequency"].astype(str) == frequency]
    keys = pd.MultiIndex.from_arrays(
        [chosen["statement"].astype(str), chosen["line_item"].astype(str)]
    )
    chosen = chosen[keys.isin(list(items))]
    wide = chosen.assign(
        column=[
            items[(s, i)]
            for s, i in zip(
                chosen["statement"].astype(str), chosen["line_item"].astype(str), strict=True
            )
        ],
        ticker=chosen["ticker"].astype(str),
    ).pivot_table(index=["ticker", "period_end"], columns="column", values="value", aggfunc="last")
    wide = wide.reindex(columns=list(dict.fromkeys(items.values()))).reset_index()
    known = availability_dates(chosen, filed, lags_days=lags_days)
    wide = wide.merge(known.drop(columns="frequency"), on=["ticker", "period_end"], how="left")
    # A period that becomes available after a later one would step the row back in time:
    # keep, per ticker, only periods newer than every period available before them.
    wide = wide.sort_values(["ticker", "available_date", "period_end"], ignore_index=True)
    newest = wide.groupby("ticker")["period_end"].cummax()
    wide = wide[wide["period_end"] >= newest].rename(columns={"basis": "availability"})
    wide = wide.rename(columns={"ticker": "symbol"})
    left = daily.assign(
        _order=np.arange(len(daily)),
        _symbol=daily["symbol"].astype(str),
        date=pd.to_datetime(daily["date"]).astype("datetime64[ns]"),
    ).sort_values("date", kind="stable")
    right = wide.rename(columns={"symbol": "_symbol"}).sort_values("available_date")
    joined = pd.merge_asof(
        left, right, left_on="date", right_on="available_date", by="_symbol",
        direction="backward", allow_exact_matches=True,
    )  # fmt: skip
    joined = joined.sort_values("_order", ignore_index=True).drop(columns=["_order", "_symbol"])
    joined["availability"] = pd.Categorical(joined["availability"], ["filed", "lag"])
    figures = list(dict.fromkeys(items.values()))
    return joined[[*daily.columns, *figures, "period_end", "available_date", "availability"]]
