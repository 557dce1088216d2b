"""Fundamentals as reported to the SEC: EDGAR's XBRL companyfacts in long form, both views.

One row per fact report: a value of a concept, for a period, in one filing (accession).
A 10-K reports last year's figures again, a 10-K/A may change them: every report is a row,
in the order the reports became public (the one public-time rule on the acceptance time the
filer's submissions data gives the accession, else the filing date). Per fact (CIK, line
item or concept, unit, period): `first_reported` marks the first report, `restated` every
report whose value differs from the report before it, `latest` the report that set the
value the fact has now (the accession that changed it).

Standard line items (`LINE_ITEMS`) map us-gaap concepts in order of preference: where one
filing reports a period under two of them, the first listed wins; across filings the latest
report counts (a company that moves from `SalesRevenueNet` to
`RevenueFromContractWithCustomerExcludingAssessedTax` restates under the new name). Nothing
is derived (no liabilities from assets minus equity): a missing line item stays missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from memwise_assets.compute.acceptance import filer_clock, parse_acceptance
from memwise_assets.compute.point_in_time import PUBLIC_COLUMN, public_session

# line item -> (kind, unit, ((taxonomy, concept), ...) in order of preference)
LINE_ITEMS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "revenue": ("duration", "USD", (
        ("us-gaap", "Revenues"),
        ("us-gaap", "RevenueFromContractWithCustomerExcludingAssessedTax"),
        ("us-gaap", "RevenueFromContractWithCustomerIncludingAssessedTax"),
        ("us-gaap", "SalesRevenueNet"),
        ("us-gaap", "SalesRevenueGoodsNet"),
    )),
    "net_income": ("duration", "USD", (
        ("us-gaap", "NetIncomeLoss"),
        ("us-gaap", "NetIncomeLossAvailableToCommonStockholdersBasic"),
        ("us-gaap", "ProfitLoss"),
    )),
    "eps_diluted": ("duration", "USD/shares", (
        ("us-gaap", "EarningsPerShareDiluted"),
        ("us-gaap", "EarningsPerShareBasicAndDiluted"),
    )),
    "total_assets": ("instant", "USD", (("us-gaap", "Assets"),)),
    "total_liabilities": ("instant", "USD", (("us-gaap", "Liabilities"),)),
    "equity": ("instant", "USD", (
        ("us-gaap", "StockholdersEquity"),
        ("us-gaap", "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest"),
    )),
    "operating_cash_flow": ("duration", "USD", (
        ("us-gaap", "NetCashProvidedByUsedInOperatingActivities"),
        ("us-gaap", "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations"),
    )),
    "shares_outstanding": ("instant", "shares", (
        ("us-gaap", "CommonStockSharesOutstanding"),
        ("dei", "EntityCommonStockSharesOutstanding"),
    )),
}  # fmt: skip
FACT_COLUMNS = [
    "cik", "ticker", "taxonomy", "concept", "unit", "period_start", "period_end",
    "fiscal_year", "fiscal_period", "form", "accession", "filed_date", "accepted_at", "value",
]  # fmt: skip
COLUMNS = [*FACT_COLUMNS, "line_item", PUBLIC_COLUMN, "first_reported", "restated", "latest"]
_CONCEPTS = {
    concept: (item, unit, rank)
    for item, (_, unit, concepts) in LINE_ITEMS.items()
    for rank, concept in enumerate(concepts)
}


def _rows(payload: Mapping[str, Any], concepts: set[tuple[str, str]] | None) -> pd.DataFrame:
    records = []
    for taxonomy, facts in (payload.get("facts") or {}).items():
        for concept, body in (facts or {}).items():
            if concepts is not None and (taxonomy, concept) not in concepts:
                continue
            for unit, reports in ((body or {}).get("units") or {}).items():
                for r in reports:
                    records.append(
                        (taxonomy, concept, unit, r.get("start"), r.get("end"), r.get("fy"),
                         r.get("fp"), r.get("form"), r.get("accn"), r.get("filed"), r.get("val"))
                    )  # fmt: skip
    return pd.DataFrame(
        records,
        columns=["taxonomy", "concept", "unit", "period_start", "period_end", "fiscal_year",
                 "fiscal_period", "form", "accession", "filed_date", "value"],
    )  # fmt: skip


def acceptance_by_accession(submissions: Mapping[str, Any] | None) -> dict[str, pd.Timestamp]:
    """Accession -> acceptance instant (UTC), read on the filer's clock."""
    recent = ((submissions or {}).get("filings") or {}).get("recent") or {}
    clock = filer_clock(dict(submissions or {}))
    found = {}
    for accession, raw in zip(
        recent.get("accessionNumber") or [], recent.get("acceptanceDateTime") or [], strict=False
    ):
        at = parse_acceptance(raw, clock=clock)
        if at is not None:
            found[accession] = at
    return found


def company_facts(
    payload: Mapping[str, Any],
    submissions: Mapping[str, Any] | None = None,
    *,
    ticker: str | None = None,
    standard_only: bool = True,
) -> tuple[pd.DataFrame, int]:
    """One company's companyfacts as long rows (COLUMNS) and how many were dropped.

    submissions: the company's submissions data (acceptance times; ticker); standard_only:
    only the concepts of LINE_ITEMS. Non-finite or non-numeric values are dropped.
    """
    raw, dropped = reports_of(payload, submissions, ticker=ticker, standard_only=standard_only)
    return views(raw), dropped


def reports_of(
    payload: Mapping[str, Any],
    submissions: Mapping[str, Any] | None = None,
    *,
    ticker: str | None = None,
    standard_only: bool = True,
) -> tuple[pd.DataFrame, int]:
    """The fact reports (FACT_COLUMNS) of one company, before `views`; and the dropped count."""
    if not isinstance(payload, Mapping) or "cik" not in payload:
        raise ValueError("expected an EDGAR companyfacts payload with cik and facts")
    frame = _rows(payload, set(_CONCEPTS) if standard_only else None)
    value = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    bad = ~np.isfinite(value.to_numpy()) | frame["accession"].isna() | frame["period_end"].isna()
    frame = frame.assign(value=value)[~bad]
    if ticker is None and submissions:
        tickers = submissions.get("tickers") or []
        ticker = tickers[0] if tickers else None
    accepted = acceptance_by_accession(submissions)
    frame = frame.assign(
        cik=np.int64(int(payload["cik"])),
        ticker=ticker,
        period_start=pd.to_datetime(frame["period_start"], errors="coerce").astype(
            "datetime64[ns]"
        ),
        period_end=pd.to_datetime(frame["period_end"], errors="coerce").astype("datetime64[ns]"),
        filed_date=pd.to_datetime(frame["filed_date"], errors="coerce").astype("datetime64[ns]"),
        fiscal_year=pd.to_numeric(frame["fiscal_year"], errors="coerce").astype("Int64"),
        accepted_at=pd.Series(
            [accepted.get(a) for a in frame["accession"]], index=frame.index, dtype=object
        ).astype("datetime64[ns, UTC]"),
    )
    return frame[FACT_COLUMNS], int(bad.sum())


def views(facts: pd.DataFrame) -> pd.DataFrame:
    """Long facts (FACT_COLUMNS) with line items, public sessions and both views' flags."""
    facts = facts.drop_duplicates(
        ["cik", "taxonomy", "concept", "unit", "period_start", "period_end", "accession"]
    ).reset_index(drop=True)
    mapped = [
        _CONCEPTS.get((t, c)) for t, c in zip(facts["taxonomy"], facts["concept"], strict=True)
    ]
    units = facts["unit"]
    item = pd.Series(
        [m[0] if m and m[1] == u else None for m, u in zip(mapped, units, strict=True)],
        index=facts.index,
        dtype=object,
    )
    rank = pd.Series([m[2] if m else 0 for m in mapped], index=facts.index, dtype="int64")
    out = facts.assign(line_item=item, _rank=rank)
    out[PUBLIC_COLUMN] = public_session(out["accepted_at"], out["filed_date"])
    # One value per line item and filing: the preferred concept's; the others keep no item.
    key = ["cik", "line_item", "unit", "period_start", "period_end", "accession"]
    has_item = out["line_item"].notna()
    ranked = out[has_item].sort_values("_rank", kind="stable")
    losers = ranked.index[ranked.duplicated(key, keep="first")]
    out.loc[losers, "line_item"] = None
    out["_fact"] = out["line_item"].where(
        out["line_item"].notna(), out["taxonomy"] + ":" + out["concept"]
    )
    fact = ["cik", "_fact", "unit", "period_start", "period_end"]
    out = out.sort_values(
        [*fact, PUBLIC_COLUMN, "accepted_at", "filed_date", "accession"],
        na_position="first",
        kind="stable",
    ).reset_index(drop=True)
    group = pd.Series(out.groupby(fact, dropna=False, sort=False).ngroup().to_numpy())
    first = group != group.shift()
    value = out["value"].to_numpy()
    restated = ~first.to_numpy() & (value != np.roll(value, 1))
    # The latest value's report: the start of the last run of equal values of each fact.
    change = first | restated
    run_start = pd.Series(np.where(change, np.arange(len(out)), np.nan)).ffill()
    first = first.to_numpy()
    last_of_fact = group != group.shift(-1)
    latest_rows = run_start[last_of_fact.to_numpy()].astype("int64").to_numpy()
    latest = np.zeros(len(out), dtype=bool)
    latest[latest_rows] = True
    out = out.assign(first_reported=first, restated=restated, latest=latest)
    return out[COLUMNS]


DTYPES = {
    "cik": "int64", "ticker": object, "taxonomy": object, "concept": object, "unit": object,
    "period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "fiscal_year": "Int64",
    "fiscal_period": object, "form": object, "accession": object,
    "filed_date": "datetime64[ns]", "accepted_at": "datetime64[ns, UTC]", "value": "float64",
    "line_item": object, PUBLIC_COLUMN: "datetime64[ns]", "first_reported": bool,
    "restated": bool, "latest": bool,
}  # fmt: skip


def empty_facts() -> pd.DataFrame:
    """A facts table with no rows, in the stored dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=DTYPES[c]) for c in COLUMNS})


def first_reported(facts: pd.DataFrame) -> pd.DataFrame:
    """The first-reported view: one row per fact, its value as first public."""
    return facts[facts["first_reported"]]


def latest(facts: pd.DataFrame) -> pd.DataFrame:
    """The latest view: one row per fact, its value now, with the accession that set it."""
    return facts[facts["latest"]]
