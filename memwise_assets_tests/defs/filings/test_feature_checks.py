"""The filing-feature checks pass on a correct join and catch a look-ahead and a wrong pair."""

from __future__ import annotations

import pandas as pd
import pytest

from memwise_assets.compute.filings.point_in_time import NEW_YORK, attach_filing_features
from memwise_assets.compute.prices import trading_days
from memwise_assets.defs.filings.feature_checks import feature_check_results, join_check_results


def _daily() -> pd.DataFrame:
    days = trading_days("2024-01-02", "2024-03-01")
    return pd.DataFrame({"symbol": pd.Categorical(["AAA"] * len(days)), "date": days})


@pytest.fixture
def filings() -> pd.DataFrame:
    accepted = pd.Series(pd.to_datetime(["2024-01-10 17:00", "2024-02-05 07:00", None]))
    return pd.DataFrame(
        {
            "filing_id": ["k", "q", "old"],
            "ticker": ["AAA", "AAA", "AAA"],
            "cik": [1, 1, 1],
            "form": ["10-K", "10-Q", "10-Q"],
            "accession": ["a1", "a2", "a3"],
            "accepted_at": accepted.dt.tz_localize(NEW_YORK).dt.tz_convert("UTC"),
            "filed_date": pd.to_datetime(["2024-01-10", "2024-02-05", "2024-01-03"]),
            "period_of_report": pd.to_datetime(["2023-12-31", "2023-12-31", "2023-09-30"]),
            "cosine_all": [0.9, 0.8, 0.7],
            "prev_filing_id": [None, None, None],
        }
    )


def test_join_check_passes_on_the_join(filings: pd.DataFrame) -> None:
    daily = _daily()
    joined = attach_filing_features(daily, filings)
    [result] = join_check_results(daily, filings, joined)
    assert result.passed, result.metadata


def test_join_check_catches_a_filing_shown_before_it_was_public(filings: pd.DataFrame) -> None:
    daily = _daily()
    joined = attach_filing_features(daily, filings)
    # The 10-K accepted on 2024-01-10 at 17:00, shown on that day's row: look-ahead.
    day = joined["date"] == pd.Timestamp("2024-01-10")
    k = joined[joined["filing_id"] == "k"].iloc[0]
    joined.loc[day, ["filing_id", "accepted_at", "cosine_all"]] = [
        "k",
        k["accepted_at"],
        k["cosine_all"],
    ]
    [result] = join_check_results(daily, filings, joined)
    assert not result.passed
    assert result.metadata["rows_with_filing_public_too_late"].value == 1


def test_feature_check_catches_a_comparison_across_company_or_form(filings) -> None:
    [result] = feature_check_results(filings)
    assert result.passed
    filings.loc[1, "prev_filing_id"] = "k"  # same CIK, another form
    [result] = feature_check_results(filings)
    assert not result.passed
    filings.loc[1, ["form", "cik"]] = ["10-K", 2]  # same form, another company
    [result] = feature_check_results(filings)
    assert not result.passed and result.metadata["wrong_company_or_form"].value == 1
