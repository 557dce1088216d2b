"""Deterministic EDGAR-shaped responses for any ticker: the offline source of `sec_fundamentals`.

Built from the sample company statements (`SampleCompanySource`), shaped as EDGAR's
companyfacts and submissions responses and read by the same `reports_of` and `views` as
real ones, so
the demo exercises the whole path offline: 10-Qs 35 days after each of the first three
quarters (reporting last year's quarter again), a 10-K 55 days after the year (reporting last
year again), accepted 16:05 New York on the filing date, and every fourth year a 10-K/A
120 days after the year restating its revenue by +2 %.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import pandas as pd

from memwise_assets.compute.company.sample import SampleCompanySource
from memwise_assets.compute.company.sec_facts import empty_facts, reports_of, views

# Yahoo-style sample item -> (us-gaap concept, unit, kind)
_CONCEPTS = {
    "TotalRevenue": ("Revenues", "USD", "duration"),
    "NetIncome": ("NetIncomeLoss", "USD", "duration"),
    "OperatingCashFlow": ("NetCashProvidedByUsedInOperatingActivities", "USD", "duration"),
    "TotalAssets": ("Assets", "USD", "instant"),
    "StockholdersEquity": ("StockholdersEquity", "USD", "instant"),
}
_SHARES = 1e9


def sample_cik(ticker: str) -> int:
    """A stable 7-digit stand-in CIK for a ticker."""
    return 1_000_000 + int(hashlib.sha256(ticker.encode()).hexdigest()[:8], 16) % 8_999_999


def _accession(cik: int, filed: pd.Timestamp, n: int) -> str:
    return f"{cik:010d}-{filed:%y}-{n:06d}"


def _filings(cik: int, quarters: pd.DatetimeIndex, today: pd.Timestamp) -> list[dict[str, Any]]:
    found = []
    for q in quarters:
        annual = q.month == 12
        filed = q + pd.Timedelta(days=55 if annual else 35)
        form = "10-K" if annual else "10-Q"
        found.append({"period": q, "form": form, "filed": filed, "restate": False})
        if annual and q.year % 4 == 0:
            found.append(
                {"period": q, "form": "10-K/A", "filed": q + pd.Timedelta(days=120),
                 "restate": True}
            )  # fmt: skip
    found = [f for f in found if f["filed"] < today]
    for n, f in enumerate(found):
        f["accession"] = _accession(cik, f["filed"], n + 1)
    return found


def _responses(
    ticker: str, rows: pd.DataFrame, today: pd.Timestamp
) -> tuple[dict[str, Any], dict[str, Any]]:
    cik = sample_cik(ticker)
    quarterly = rows[rows["frequency"] == "quarterly"]
    annual = rows[rows["frequency"] == "annual"]
    values = {
        (f, i, p): v
        for f, frame in (("Q", quarterly), ("FY", annual))
        for i, p, v in zip(frame["line_item"], frame["period_end"], frame["value"], strict=True)
    }
    quarters = pd.DatetimeIndex(sorted(quarterly["period_end"].unique()))
    facts: dict[str, dict[str, Any]] = {}

    def report(concept: str, unit: str, start: Any, end: pd.Timestamp, value: float, f: dict):
        entry = {"end": f"{end:%Y-%m-%d}", "val": value, "accn": f["accession"],
                 "fy": f["period"].year, "fp": "FY" if f["form"] != "10-Q" else
                 f"Q{(f['period'].month - 1) // 3 + 1}", "form": f["form"],
                 "filed": f"{f['filed']:%Y-%m-%d}"}  # fmt: skip
        if start is not None:
            entry["start"] = f"{start:%Y-%m-%d}"
        units = facts.setdefault(concept, {"units": {}})["units"]
        units.setdefault(unit, []).append(entry)

    for f in _filings(cik, quarters, today):
        freq = "FY" if f["form"] != "10-Q" else "Q"
        months = 12 if freq == "FY" else 3
        for back in (0, 1):  # this period and the same period a year earlier
            end = f["period"] - pd.DateOffset(years=back) + pd.offsets.MonthEnd(0)
            start = end - pd.DateOffset(months=months) + pd.Timedelta(days=1)
            start = start + pd.offsets.MonthBegin(0) if start.day != 1 else start
            for item, (concept, unit, kind) in _CONCEPTS.items():
                value = values.get((freq, item, end))
                if value is None:
                    continue
                if f["restate"] and back == 0 and item == "TotalRevenue":
                    value = round(value * 1.02, -3)
                report(concept, unit, start if kind == "duration" else None, end, value, f)
            assets, equity = (
                values.get((freq, "TotalAssets", end)),
                values.get((freq, "StockholdersEquity", end)),
            )
            if assets is not None and equity is not None:
                report("Liabilities", "USD", None, end, assets - equity, f)
                report("CommonStockSharesOutstanding", "shares", None, end, _SHARES, f)
            income = values.get((freq, "NetIncome", end))
            if income is not None:
                report("EarningsPerShareDiluted", "USD/shares", start, end,
                       round(income / _SHARES, 2), f)  # fmt: skip
    listed = _filings(cik, quarters, today)
    submissions = {
        "cik": str(cik),
        "name": f"{ticker} Sample Corp.",
        "tickers": [ticker],
        "filings": {
            "recent": {
                "accessionNumber": [f["accession"] for f in listed],
                "filingDate": [f"{f['filed']:%Y-%m-%d}" for f in listed],
                "reportDate": [f"{f['period']:%Y-%m-%d}" for f in listed],
                "acceptanceDateTime": [f"{f['filed']:%Y-%m-%d}T16:05:00.000Z" for f in listed],
                "form": [f["form"] for f in listed],
            }
        },
    }
    payload = {"cik": cik, "entityName": f"{ticker} Sample Corp.", "facts": {"us-gaap": facts}}
    return payload, submissions


def sample_sec_facts(
    tickers: Iterable[str], *, seed: int = 0, today: pd.Timestamp | None = None
) -> pd.DataFrame:
    """SEC facts (sec_facts.COLUMNS) of the sample companies, as `company_facts` reads them."""
    today = pd.Timestamp.now().normalize() if today is None else pd.Timestamp(today)
    tickers = [t.strip().upper() for t in tickers if t.strip()]
    statements = SampleCompanySource(seed=seed).fetch_fundamentals(tickers, today).frame
    frames = []
    for ticker, rows in statements.groupby("ticker", observed=True):
        rows = rows.astype({"line_item": str, "frequency": str})
        payload, submissions = _responses(str(ticker), rows, today)
        frames.append(reports_of(payload, submissions, ticker=str(ticker))[0])
    # One pass of the views over every company: they group by CIK anyway.
    return views(pd.concat(frames, ignore_index=True)) if frames else empty_facts()
