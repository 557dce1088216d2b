"""Deterministic synthetic company profiles and statements: the offline default source.

Unlike Yahoo (5 quarters, 4 years) the sample keeps every quarter from 2014 to 2025, so
the demo's joins have history to show. Values depend only on the ticker and the seed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from memwise_assets.compute.company.schema import fundamentals_frame, profiles_frame
from memwise_assets.compute.company.source import CompanySource, company_result
from memwise_assets.compute.prices import FetchResult

SECTORS: tuple[str, ...] = (
    "Technology", "Healthcare", "Financial Services", "Consumer Cyclical",
    "Consumer Defensive", "Energy", "Industrials", "Communication Services", "Utilities",
)  # fmt: skip
QUARTERS = pd.date_range("2014-03-31", "2025-12-31", freq="QE")
# Flow items add up over a year; stock items are the value at the period end.
FLOW_ITEMS: dict[str, tuple[str, float]] = {
    "TotalRevenue": ("income", 1.0),
    "GrossProfit": ("income", 0.42),
    "OperatingIncome": ("income", 0.2),
    "NetIncome": ("income", 0.14),
    "OperatingCashFlow": ("cash_flow", 0.22),
    "CapitalExpenditure": ("cash_flow", -0.05),
    "FreeCashFlow": ("cash_flow", 0.17),
}
STOCK_ITEMS: dict[str, tuple[str, float]] = {
    "TotalAssets": ("balance_sheet", 3.0),
    "StockholdersEquity": ("balance_sheet", 1.1),
    "CashAndCashEquivalents": ("balance_sheet", 0.35),
}


def _rng(ticker: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:company:{ticker}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class SampleCompanySource(CompanySource):
    """Synthetic, deterministic profiles and quarterly/annual statements for any ticker."""

    name = "sample"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _profiles(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult:
        rows = []
        for t in tickers:
            rng = _rng(t, self.seed)
            price = float(np.round(np.exp(rng.uniform(np.log(10), np.log(600))), 2))
            shares = int(np.exp(rng.uniform(np.log(2e8), np.log(1.5e10))))
            sector = SECTORS[int(rng.integers(len(SECTORS)))]
            rows.append(
                {
                    "ticker": t,
                    "name": f"{t} Sample Corp.",
                    "quote_type": "EQUITY",
                    "sector": sector,
                    "industry": f"{sector} (sample)",
                    "exchange": "NMS" if rng.random() < 0.4 else "NYQ",
                    "exchange_name": None,
                    "currency": "USD",
                    "financial_currency": "USD",
                    "country": "United States",
                    "market_cap": price * shares,
                    "shares_outstanding": shares,
                    "float_shares": int(shares * 0.97),
                    "average_volume": int(shares * rng.uniform(0.002, 0.01)),
                    "price": price,
                    "first_trade_date": pd.Timestamp("1980-12-12")
                    + pd.Timedelta(days=int(rng.integers(0, 12_000))),
                    "employees": int(rng.integers(2_000, 400_000)),
                }
            )
        for row in rows:
            row["exchange_name"] = {"NMS": "NasdaqGS", "NYQ": "NYSE"}[row["exchange"]]
        frame = profiles_frame(rows, tickers, fetched_at)
        return company_result(
            frame, tickers, failed={}, notes={}, source=self.name, what="profiles"
        )

    def _fundamentals(self, tickers: list[str], fetched_at: pd.Timestamp) -> FetchResult:
        parts: dict[tuple[str, str, str], pd.DataFrame] = {}
        years = QUARTERS[QUARTERS.month == 12]
        for t in tickers:
            rng = _rng(t, self.seed)
            revenue = np.exp(rng.uniform(np.log(5e8), np.log(3e10))) * np.exp(
                np.cumsum(rng.normal(0.015, 0.05, len(QUARTERS)))
            )
            noise = rng.normal(1.0, 0.08, (len(FLOW_ITEMS) + len(STOCK_ITEMS), len(QUARTERS)))
            rows: dict[tuple[str, str], list[pd.DataFrame]] = {}
            for i, (item, (statement, share)) in enumerate({**FLOW_ITEMS, **STOCK_ITEMS}.items()):
                quarterly = np.round(revenue * share * noise[i], -3)
                if item in FLOW_ITEMS:
                    annual = quarterly.reshape(-1, 4).sum(axis=1)
                else:
                    annual = quarterly[3::4]
                for frequency, periods, values in (
                    ("quarterly", QUARTERS, quarterly),
                    ("annual", years, annual),
                ):
                    part = pd.DataFrame({"line_item": item, "period_end": periods, "value": values})
                    rows.setdefault((statement, frequency), []).append(part)
            for (statement, frequency), frames in rows.items():
                parts[(t, statement, frequency)] = pd.concat(frames, ignore_index=True)
        frame = fundamentals_frame(parts, tickers, fetched_at)
        # Nothing can be fetched about a period that has not ended yet.
        frame = frame[frame["period_end"] < frame["fetched_at"]].reset_index(drop=True)
        return company_result(
            frame, tickers, failed={}, notes={}, source=self.name, what="statements"
        )
