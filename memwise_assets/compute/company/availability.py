"""When a statement figure becomes known, and daily rows that carry only known figures.

Yahoo's statements are not point in time: a figure for the quarter ending 2024-03-31 is
only public once the 10-Q is filed, weeks later (and Yahoo's numbers are the latest,
restated ones: their timing can be made point in time here, their values cannot; use
`sec_fundamentals` for values as first reported). Each (ticker, period) gets an
`available_date`, the session from which a daily row may carry it, by the one public-time
rule (`compute/point_in_time.py`), date-only branch: the next session after

- the period's 10-Q/10-K filing date, where EDGAR data gives one;
- otherwise the filing deadline of the filer category assumed (`FILER_DEADLINES`; default
  non-accelerated with a 12b-25 extension: 45 + 5 days for a quarter, 90 + 15 for a year).
  A quarter that ends on the fiscal year end is reported first in the 10-K, so it waits for
  the 10-K deadline; where the fiscal year end is not known (no annual rows), every quarter
  does.

A row of date d carries the latest period with `available_date <= d`, never a later one,
and for at most `max_age_days` after the period ended (then NaN: stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from memwise_assets.compute.point_in_time import public_session

# Days from period end to the SEC deadline (10-Q, 10-K) per filer category, and the days a
# Form 12b-25 notification adds (5 for a 10-Q, 15 for a 10-K).
FILER_DEADLINES: dict[str, tuple[int, int]] = {
    "large_accelerated": (40, 60),
    "accelerated": (40, 75),
    "non_accelerated": (45, 90),
}
LATE_EXTENSION_DAYS = (5, 15)
DEFAULT_FILER = "non_accelerated"


def deadline_lags(category: str = DEFAULT_FILER, *, late: bool = True) -> dict[str, int]:
    """The quarterly and annual lags (days after period end) of a filer category."""
    if category not in FILER_DEADLINES:
        raise ValueError(
            f"filer category must be one of {sorted(FILER_DEADLINES)}; got {category!r}"
        )
    quarter, year = FILER_DEADLINES[category]
    if late:
        quarter, year = quarter + LATE_EXTENSION_DAYS[0], year + LATE_EXTENSION_DAYS[1]
    return {"quarterly": quarter, "annual": year}


DEFAULT_LAGS_DAYS: dict[str, int] = deadline_lags()
# A period is carried this long after it ended, at most (a quarter: the next one is due
# within 105 days of its own end; a year: the next year's 10-K within 365 + 105).
DEFAULT_MAX_AGE_DAYS: dict[str, int] = {"quarterly": 200, "annual": 480}
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
    fiscal_year_ends: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (ticker, frequency, period_end): `available_date` and its `basis`.

    `basis` is "filed" (the session after the EDGAR filing date) or "lag" (the session after
    the assumed deadline; a fiscal-year-end quarter takes the annual lag).
    `fiscal_year_ends`: (ticker, period_end) of annual periods; default: the annual rows of
    `fundamentals`.
    """
    periods = (
        fundamentals[["ticker", "frequency", "period_end"]]
        .astype({"ticker": str, "frequency": str, "period_end": "datetime64[ns]"})
        .drop_duplicates()
        .sort_values("period_end", kind="stable", ignore_index=True)
    )
    unknown = set(periods["frequency"]) - set(lags_days)
    if unknown:
        raise ValueError(f"lags_days needs a lag for {sorted(unknown)}; got {dict(lags_days)}")
    lag_days = periods["frequency"].map(dict(lags_days)).astype("int64")
    if "annual" in lags_days:
        year_end = _fiscal_year_end(
            periods, fundamentals if fiscal_year_ends is None else fiscal_year_ends
        )
        lag_days = lag_days.where(~year_end, np.maximum(lag_days, lags_days["annual"]))
    periods["lag_date"] = periods["period_end"] + pd.to_timedelta(lag_days, unit="D")
    filings = filed_dates_frame(filed).rename(columns={"period_end": "filed_period"})
    matched = _nearest_of_ticker(periods, filings, "filed_period")
    # A filing dated before its period ended is bad data: fall back to the lag.
    use_filed = matched["filed_date"].notna() & (matched["filed_date"] > matched["period_end"])
    known = matched["filed_date"].where(use_filed, matched["lag_date"])
    matched["available_date"] = public_session(None, known).astype("datetime64[ns]")
    matched["basis"] = pd.Categorical(np.where(use_filed, "filed", "lag"), ["filed", "lag"])
    return matched[["ticker", "frequency", "period_end", "available_date", "basis"]]


def _fiscal_year_end(periods: pd.DataFrame, annual: pd.DataFrame) -> pd.Series:
    """Per period: does it end on its ticker's fiscal year end (or is that unknown)?"""
    if "frequency" in annual.columns:
        annual = annual[annual["frequency"].astype(str) == "annual"]
    ends = pd.DataFrame(
        {
            "ticker": annual["ticker"].astype(str),
            "year_end": pd.to_datetime(annual["period_end"]).astype("datetime64[ns]"),
        }
    ).drop_duplicates()
    nearest = _nearest_of_ticker(
        periods[["ticker", "period_end"]].reset_index(), ends, "year_end"
    ).set_index("index")["year_end"]
    unknown = ~periods["ticker"].isin(set(ends["ticker"]))
    return (nearest.reindex(periods.index).notna() | unknown).astype(bool)


def join_fundamentals(
    daily: pd.DataFrame,
    fundamentals: pd.DataFrame,
    filed: FiledDates | None = None,
    *,
    frequency: str = "quarterly",
    items: Mapping[tuple[str, str], str] = DEFAULT_ITEMS,
    lags_days: Mapping[str, int] = DEFAULT_LAGS_DAYS,
    max_age_days: int | None = -1,
) -> pd.DataFrame:
    """Daily rows (symbol, date, ...) with each symbol's latest figures known on that date.

    Adds one float64 column per `items` entry plus `period_end`, `available_date` and
    `availability` (filed | lag) of the period the row carries; NaN/NaT before any period
    of the symbol is available, and once the period ended more than `max_age_days` before
    the row (-1: `DEFAULT_MAX_AGE_DAYS` of the frequency; None: no limit). Rows keep the
    order and columns of `daily`.
    """
    for frame, cols, what in (
        (daily, ("symbol", "date"), "daily rows"),
        (fundamentals, ("ticker", "statement", "line_item", "period_end", "frequency", "value"),
         "fundamentals"),
    ):  # fmt: skip
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} need columns {', '.join(cols)}; missing {missing}")
    # Any datetime unit in, nanoseconds inside: merges refuse to mix units.
    fundamentals = fundamentals.assign(
        period_end=pd.to_datetime(fundamentals["period_end"]).astype("datetime64[ns]")
    )
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
    known = availability_dates(chosen, filed, lags_days=lags_days, fiscal_year_ends=fundamentals)
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
    figures = list(dict.fromkeys(items.values()))
    if max_age_days == -1:
        max_age_days = DEFAULT_MAX_AGE_DAYS.get(frequency)
    if max_age_days is not None:
        stale = (joined["date"] - joined["period_end"]) > pd.Timedelta(days=max_age_days)
        for column in [*figures, "period_end", "available_date", "availability"]:
            joined[column] = joined[column].mask(stale)
    joined["availability"] = pd.Categorical(joined["availability"], ["filed", "lag"])
    return joined[[*daily.columns, *figures, "period_end", "available_date", "availability"]]


def _nearest_of_ticker(periods: pd.DataFrame, dated: pd.DataFrame, on: str) -> pd.DataFrame:
    """`periods` with the row of `dated` (same ticker) whose `on` is nearest its period end,
    within PERIOD_MATCH_DAYS (else NaN)."""
    return pd.merge_asof(
        periods,
        dated.sort_values(on),
        left_on="period_end",
        right_on=on,
        by="ticker",
        direction="nearest",
        tolerance=pd.Timedelta(days=PERIOD_MATCH_DAYS),
    )
