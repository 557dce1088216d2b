"""The shared perturbation test: every point-in-time join, cut at random sessions.

Drop everything public after a cut, join again, and every daily row up to the cut must be
identical. One case per joined asset: filing features, SEC fundamentals (both views), Yahoo
fundamentals (filing dates and the deadline lags).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.company import (
    SampleCompanySource,
    availability_dates,
    filed_dates_from_submissions,
    join_fundamentals,
)
from memwise_assets.compute.company.sec_facts import company_facts
from memwise_assets.compute.company.sec_join import sec_daily
from memwise_assets.compute.filings.metadata import edgar_acceptance_utc
from memwise_assets.compute.filings.point_in_time import attach_filing_features
from memwise_assets.compute.point_in_time import public_session, unchanged_before_cut
from memwise_assets.compute.prices import trading_days

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sec_facts"
SEEDS = range(6)
# A case: (daily rows, the events, each event's public session, the join of daily + events).
# The join takes the events kept and the cut (None: nothing dropped).
Join = Callable[[pd.DataFrame, pd.Timestamp | None], pd.DataFrame]
Case = tuple[pd.DataFrame, pd.DataFrame, pd.Series, Join]


def _json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _daily() -> pd.DataFrame:
    days = trading_days("2011-06-01", "2023-01-01")
    return pd.DataFrame({"symbol": "TSLA", "date": days, "close": np.linspace(5, 300, len(days))})


def _filings_case() -> Case:
    recent = _json("submissions_CIK0001318605.json")["filings"]["recent"]
    frame = pd.DataFrame(recent)
    frame = frame[frame["form"].isin(["10-K", "10-Q", "10-K/A"])].reset_index(drop=True)
    rng = np.random.default_rng(1)
    features = pd.DataFrame(
        {
            "filing_id": frame["accessionNumber"],
            "cik": 1318605,
            "ticker": "TSLA",
            "form": frame["form"],
            "accession": frame["accessionNumber"],
            "accepted_at": [edgar_acceptance_utc(v) for v in frame["acceptanceDateTime"]],
            "filed_date": pd.to_datetime(frame["filingDate"]),
            "period_of_report": pd.to_datetime(frame["reportDate"]),
            "cosine_all": rng.random(len(frame)),
        }
    )
    # A few filings known only by their date.
    features.loc[::7, "accepted_at"] = pd.NaT
    features["accepted_at"] = pd.to_datetime(features["accepted_at"], utc=True)
    sessions = public_session(features["accepted_at"], features["filed_date"])
    return _daily(), features, sessions, lambda ev, cut: attach_filing_features(_daily(), ev)


def _sec_case(view: str) -> Case:
    facts, _ = company_facts(
        _json("companyfacts_CIK0001318605.json"), _json("submissions_CIK0001318605.json")
    )

    def join(events: pd.DataFrame, cut: pd.Timestamp | None) -> pd.DataFrame:
        return sec_daily(_daily(), events, view=view)

    return _daily(), facts, facts["public_session"], join


def _yahoo_case() -> Case:
    fundamentals = SampleCompanySource().fetch_fundamentals(["TSLA"], "2023-01-01").frame
    filed = filed_dates_from_submissions(_json("submissions_CIK0001318605.json"))
    known = availability_dates(fundamentals, filed)
    session = fundamentals.merge(known, on=["ticker", "frequency", "period_end"], how="left")
    sessions = pd.Series(session["available_date"].to_numpy(), index=fundamentals.index)

    def join(events: pd.DataFrame, cut: pd.Timestamp | None) -> pd.DataFrame:
        # A filing date is itself public from the session after it: later ones are dropped.
        dates = filed
        if cut is not None:
            dates = filed[(public_session(None, filed["filed_date"]) <= cut).to_numpy()]
        return join_fundamentals(_daily(), events, dates)

    return _daily(), fundamentals, sessions, join


CASES = {
    "filing_features": _filings_case,
    "sec_first_reported": lambda: _sec_case("first_reported"),
    "sec_as_known": lambda: _sec_case("as_known"),
    "yahoo_fundamentals": _yahoo_case,
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_public_after_a_cut_changes_a_row_before_it(case: str, seed: int) -> None:
    daily, events, sessions, join = CASES[case]()
    full = join(events, None)
    known = np.sort(sessions.dropna().unique())
    rng = np.random.default_rng(seed)
    cut = pd.Timestamp(known[rng.integers(1, len(known) - 1)])
    kept = events[(sessions <= cut).to_numpy()]
    assert unchanged_before_cut(full, join(kept, cut), cut) is None
    # Rows after the cut may differ (that is what was dropped), and some do.
    assert len(kept) < len(events)
