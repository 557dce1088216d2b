"""Fundamentals as reported to the SEC (XBRL companyfacts), and daily rows carrying them."""

from collections.abc import Iterator
from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field

from memwise_assets.compute.company.sec_facts import LINE_ITEMS
from memwise_assets.compute.company.sec_fetch import FactsReport, fetch_sec_facts
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.company.sec_sample import sample_sec_facts
from memwise_assets.compute.edgar import EdgarError, ticker_map
from memwise_assets.compute.markdown import md_table
from memwise_assets.compute.point_in_time import (
    PUBLIC_COLUMN,
    as_dates,
    public_session,
    unchanged_before_cut,
)
from memwise_assets.compute.prices import DEFAULT_TICKERS
from memwise_assets.defs.block_joins import (
    CheckTally,
    join_blocks,
    join_step,
    of_symbols,
)
from memwise_assets.defs.blocked import plan_metadata
from memwise_assets.defs.filings.edgar import PACING, EdgarResource
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.store import Blocks
from memwise_assets.defs.stored_table import StoredTable
from memwise_assets.defs.table_asset import table_asset

ONE_VALUE_PER_VIEW = "one_first_and_one_latest_per_fact"
PUBLIC_AFTER_FILING = "public_no_earlier_than_filed"
NO_SEC_LOOK_AHEAD = "no_sec_fundamental_look_ahead"
SEC_FACT_CHECKS = [
    dg.AssetCheckSpec(
        ONE_VALUE_PER_VIEW,
        asset="sec_fundamentals",
        description="Every fact has exactly one first-reported and one latest report.",
    ),
    dg.AssetCheckSpec(
        PUBLIC_AFTER_FILING,
        asset="sec_fundamentals",
        description="No report counts from a session before its filing date.",
    ),
]
SEC_JOIN_CHECKS = [
    dg.AssetCheckSpec(
        NO_SEC_LOOK_AHEAD,
        asset="daily_with_sec_fundamentals",
        description="Dropping every report public after a cut leaves every row up to the cut "
        "unchanged.",
    )
]
# Companyfacts of one company is a few MB of JSON: the step's memory is the interpreter.
_STATIC_MB = 128.0


class SecFundamentalsConfig(dg.Config):
    """Where the facts come from, which concepts to keep, how long responses are reused."""

    source: Literal["sample", "edgar"] = Field(
        default="sample",
        description="sample (offline, deterministic, EDGAR-shaped) or edgar (the companies "
        "the edgar resource follows, through its client).",
    )
    tickers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TICKERS),
        description="Tickers of the sample source (EDGAR: the edgar resource's tickers/ciks).",
    )
    seed: int = Field(default=0, description="Seed of the sample source.")
    concepts: Literal["standard", "all"] = Field(
        default="standard",
        description="standard: the concepts of the standard line items; all: every concept.",
    )
    max_age_hours: float = Field(
        default=20.0,
        description="Reuse a company's saved responses younger than this (resumes a run).",
    )


def _companies(edgar: EdgarResource, client: object) -> list[tuple[int, str | None]]:
    companies: list[tuple[int, str | None]] = []
    if edgar.tickers:
        known = ticker_map(client, edgar.www_base_url.rstrip("/"))
        for ticker in edgar.tickers:
            cik = known.get(ticker.strip().upper())
            if cik is not None:
                companies.append((cik, ticker.strip().upper()))
    companies += [(int(c), None) for c in edgar.ciks]
    return list(dict.fromkeys(companies))


def _report_md(reports: list[FactsReport]) -> str:
    return md_table(
        [
            {
                "company": r.company,
                "cik": r.cik,
                "status": r.status,
                "rows": r.rows,
                "dropped": r.dropped,
                "reason": r.reason,
            }
            for r in reports
        ]  # fmt: skip
    )


# Bound by EDGAR's request rate more than by memory: the EDGAR job's pool, not the budget's.
@table_asset("company", budget="prices", check_specs=SEC_FACT_CHECKS, pool="edgar")
def sec_fundamentals(
    context: dg.AssetExecutionContext,
    config: SecFundamentalsConfig,
    memory: MemoryResource,
    edgar: EdgarResource,
    filings: FilingsResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Every fact report of the followed companies, as first reported and as latest."""
    with memory.step(context, budget="prices", static_estimate_mb=_STATIC_MB) as step:
        if config.source == "sample":
            facts = sample_sec_facts(config.tickers, seed=config.seed)
            step.mark("sample-built")
            yield step.output(
                facts, metadata={**_facts_metadata(facts, []), "memwise/source": "sample"}
            )
            yield from fact_check_results(facts)
            return
        client = edgar.edgar_client()
        try:
            companies = _companies(edgar, client)
        except EdgarError as exc:
            raise dg.Failure(description=f"EDGAR ticker map: {exc}") from exc
        facts, reports = fetch_sec_facts(
            client,
            companies,
            filings.landing,
            data_base_url=edgar.data_base_url.rstrip("/"),
            max_age_hours=config.max_age_hours,
            standard_only=config.concepts == "standard",
        )
        step.mark("fetch-complete")
        failed = [r for r in reports if r.status != "ok"]
        if reports and len(failed) == len(reports):
            raise dg.Failure(description="every company failed", metadata={
                "memwise/company_reports": dg.MetadataValue.md(_report_md(reports))})  # fmt: skip
        metadata = {**_facts_metadata(facts, reports), "memwise/source": "edgar"}
        yield step.output(facts, metadata=metadata)
        yield from fact_check_results(facts)


def _facts_metadata(facts: pd.DataFrame, reports: list[FactsReport]) -> dict[str, object]:
    metadata: dict[str, object] = {
        "memwise/companies": len(reports) if reports else int(facts["cik"].nunique()),
        "memwise/companies_failed": sum(r.status != "ok" for r in reports),
        "memwise/facts": int(facts["first_reported"].sum()),
        "memwise/restatements": int(facts["restated"].sum()),
        "memwise/dropped_values": sum(r.dropped for r in reports),
    }
    if reports:
        metadata["memwise/bound"] = PACING
        metadata["memwise/company_reports"] = dg.MetadataValue.md(_report_md(reports))
    return metadata


def fact_check_results(facts: pd.DataFrame) -> Iterator[dg.AssetCheckResult]:
    """One first and one latest report per fact; nothing public before its filing date."""
    # A fact: one line item (any of its concepts) or one unmapped concept, of one period.
    name = (
        facts["line_item"]
        .astype(object)
        .where(facts["line_item"].notna(), facts["taxonomy"] + ":" + facts["concept"])
    )
    key = [facts["cik"], name, facts["unit"], facts["period_start"], facts["period_end"]]
    flags = facts[["first_reported", "latest"]].astype("int64")
    counts = flags.groupby(key, dropna=False).sum()
    bad = int((counts != 1).any(axis=1).sum())
    yield dg.AssetCheckResult(
        check_name=ONE_VALUE_PER_VIEW,
        passed=bad == 0,
        metadata={"facts": len(counts), "facts_without_exactly_one": bad},
    )
    early = facts[PUBLIC_COLUMN].notna() & (facts[PUBLIC_COLUMN] < facts["filed_date"])
    yield dg.AssetCheckResult(
        check_name=PUBLIC_AFTER_FILING,
        passed=not early.any(),
        metadata={"reports_public_before_filed": int(early.sum())},
    )


class SecJoinConfig(dg.Config):
    """Which view of the SEC facts daily rows carry, of which periods, and for how long."""

    view: Literal["first_reported", "as_known"] = Field(
        default="first_reported",
        description="first_reported: each value as first public (restatements never reach "
        "back); as_known: a restated value counts from the restatement's own public session.",
    )
    frequency: Literal["quarterly", "annual"] = Field(
        default="quarterly", description="Three-month or twelve-month periods."
    )
    max_age_days: int | None = Field(
        default=-1,
        description="A value is carried at most this many days after its period ended. "
        "-1: 200 for quarters, 480 for years; null: no limit.",
    )


@table_asset(
    "company",
    budget="weekly",
    reads={"daily_bars": ["symbol", "date", "close"]},
    check_specs=SEC_JOIN_CHECKS,
)
def daily_with_sec_fundamentals(
    context: dg.AssetExecutionContext,
    config: SecJoinConfig,
    memory: MemoryResource,
    daily_bars: StoredTable,
    sec_fundamentals: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Daily rows with each line item's SEC value public before that session opened."""
    # The daily bars are read by blocks inside the step; the facts are held whole.
    args = {"view": config.view, "frequency": config.frequency, "max_age_days": config.max_age_days}
    joining = join_step(context, memory, daily_bars, _COST, "weekly", sec_fundamentals)
    with joining as (step, plan):
        # One cut for every block: the check is the whole table's, taken block by block.
        cut = sec_cut(sec_fundamentals)
        with_revenue = [0]
        checks = CheckTally()

        def join(bars: pd.DataFrame) -> pd.DataFrame:
            return sec_daily(bars, of_symbols(sec_fundamentals, "ticker", bars["symbol"]), **args)

        def on_block(i: int, bars: pd.DataFrame, joined: pd.DataFrame) -> None:
            step.mark(f"block-{i + 1}-of-{plan.blocks}")
            with_revenue[0] += int(joined["revenue"].notna().sum())
            facts = of_symbols(sec_fundamentals, "ticker", bars["symbol"])
            checks.add(sec_join_check(bars, facts, joined, cut=cut, **args))

        def summary() -> dict[str, object]:
            return {
                "memwise/rows_with_revenue": with_revenue[0],
                "memwise/view": config.view,
                "memwise/convention": "first session opening (09:30 New York) after "
                "acceptance; date only: next session after the filing date",
            }

        yield step.output(
            Blocks(
                join_blocks(daily_bars, plan, join, on_block),
                plan=plan_metadata(plan),
                summary=summary,
                null_types=ACCESSION_TYPES,
            )
        )
        yield checks.result(NO_SEC_LOOK_AHEAD)


_COST = "sec_attach"
# sec_daily carries accessions as Python strings (object): Arrow stores them as `string`.
ACCESSION_TYPES = pa.schema([pa.field(f"{item}_accession", pa.string()) for item in LINE_ITEMS])


def sec_cut(facts: pd.DataFrame, seed: int = 0) -> pd.Timestamp | None:
    """The perturbation test's cut: a random public session in the last half of the facts'."""
    sessions = public_session(facts["accepted_at"], facts["filed_date"])
    known = np.sort(sessions.dropna().unique())
    if len(known) < 2:
        return None
    rng = np.random.default_rng(seed)
    low = min(len(known) // 2, len(known) - 2)
    return pd.Timestamp(known[rng.integers(low, len(known) - 1)])


def sec_join_check(
    daily: pd.DataFrame,
    facts: pd.DataFrame,
    joined: pd.DataFrame,
    seed: int = 0,
    cut: pd.Timestamp | None = None,
    **args: object,
) -> dg.AssetCheckResult:
    """The shared perturbation test at a cut (default: `sec_cut` of `facts`): dropping every
    report public after it leaves every row up to it unchanged."""
    cut = sec_cut(facts, seed) if cut is None else cut
    detail = "no report to cut at"
    if cut is not None:
        sessions = public_session(facts["accepted_at"], facts["filed_date"])
        again = sec_daily(daily, facts[(sessions <= cut).to_numpy()], **args)
        detail = unchanged_before_cut(joined, again, cut) or "identical"
        if len(daily) and as_dates(daily["date"]).max() < cut:
            detail = "identical (cut after the last row)"
    return dg.AssetCheckResult(
        check_name=NO_SEC_LOOK_AHEAD,
        passed=detail.startswith("identical") or detail == "no report to cut at",
        metadata={"cut_session": str(cut.date()) if cut is not None else "-", "truncation": detail},
    )
