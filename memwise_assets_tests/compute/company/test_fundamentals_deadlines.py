"""Yahoo fundamentals without filing dates: deadlines per filer category, units, staleness."""

from __future__ import annotations

import pandas as pd
import pytest

from memwise_assets.compute.company import (
    SampleCompanySource,
    availability_dates,
    join_fundamentals,
)
from memwise_assets.compute.company.availability import (
    FILER_DEADLINES,
    LATE_EXTENSION_DAYS,
    deadline_lags,
)
from memwise_assets.compute.prices import SamplePriceSource


def _fundamentals(fiscal_year_end_month: int = 12) -> pd.DataFrame:
    """Sample statements; annual rows moved to the given fiscal year end month."""
    frame = SampleCompanySource().fetch_fundamentals(["AAPL"], "2025-06-01").frame
    annual = frame["frequency"] == "annual"
    ends = frame.loc[annual, "period_end"]
    if fiscal_year_end_month != 12:
        moved = (ends - pd.offsets.MonthEnd(12 - fiscal_year_end_month)).astype("datetime64[ns]")
        frame.loc[annual, "period_end"] = moved
    return frame


@pytest.mark.parametrize("category", sorted(FILER_DEADLINES))
@pytest.mark.parametrize("late", [True, False])
@pytest.mark.parametrize("month", [12, 9, 6])
def test_fourth_quarter_never_before_the_10k_deadline(category: str, late: bool, month: int):
    fundamentals = _fundamentals(month)
    lags = deadline_lags(category, late=late)
    known = availability_dates(fundamentals, lags_days=lags)
    quarters = known[known["frequency"] == "quarterly"]
    year_end = quarters["period_end"].dt.month == month
    deadline = quarters["period_end"] + pd.to_timedelta(lags["annual"], unit="D")
    assert year_end.sum() >= 10
    # Public from the session after the deadline date, never on or before it.
    assert (quarters.loc[year_end, "available_date"] > deadline[year_end]).all()
    other = quarters.loc[~year_end]
    ten_q = other["period_end"] + pd.to_timedelta(lags["quarterly"], unit="D")
    assert (other["available_date"] > ten_q).all()
    assert (other["available_date"] - ten_q <= pd.Timedelta(days=5)).all()


def test_deadlines_are_the_sec_rules() -> None:
    assert deadline_lags("large_accelerated", late=False) == {"quarterly": 40, "annual": 60}
    assert deadline_lags("accelerated", late=False) == {"quarterly": 40, "annual": 75}
    assert deadline_lags() == {"quarterly": 45 + 5, "annual": 90 + 15}
    assert LATE_EXTENSION_DAYS == (5, 15)
    with pytest.raises(ValueError, match="filer category"):
        deadline_lags("small")


def test_unknown_fiscal_year_end_makes_every_quarter_wait_for_the_10k() -> None:
    quarterly = _fundamentals()
    quarterly = quarterly[quarterly["frequency"] == "quarterly"]
    known = availability_dates(quarterly)
    assert (known["available_date"] > known["period_end"] + pd.Timedelta(days=105)).all()


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_any_datetime_unit(unit: str) -> None:
    fundamentals = _fundamentals()
    bars = SamplePriceSource().fetch(["AAPL"], "2023-01-03", "2024-12-31").frame
    filed = pd.DataFrame(
        {"ticker": ["AAPL"], "period_end": ["2024-03-31"], "filed_date": ["2024-05-03"]}
    )
    expected = join_fundamentals(bars, fundamentals, filed)
    got = join_fundamentals(
        bars.astype({"date": f"datetime64[{unit}]"}),
        fundamentals.astype({"period_end": f"datetime64[{unit}]"}),
        filed.astype({"period_end": f"datetime64[{unit}]", "filed_date": f"datetime64[{unit}]"}),
    )
    pd.testing.assert_frame_equal(
        got.drop(columns="date"), expected.drop(columns="date"), check_dtype=False
    )
    known = availability_dates(
        fundamentals.astype({"period_end": f"datetime64[{unit}]"}),
        filed.astype({"filed_date": f"datetime64[{unit}]"}),
    )
    assert len(known) == fundamentals[["frequency", "period_end"]].drop_duplicates().shape[0]


def test_staleness_limit() -> None:
    fundamentals = _fundamentals()
    fundamentals = fundamentals[fundamentals["period_end"] <= "2022-12-31"]
    bars = SamplePriceSource().fetch(["AAPL"], "2022-01-03", "2024-12-31").frame
    joined = join_fundamentals(bars, fundamentals).set_index("date")
    age = joined.index - joined["period_end"]
    assert (age.dropna() <= pd.Timedelta(days=200)).all()
    assert joined.loc["2024-01-02", "revenue"] != joined.loc["2024-01-02", "revenue"]  # NaN
    forever = join_fundamentals(bars, fundamentals, max_age_days=None).set_index("date")
    assert forever.loc["2024-01-02", "period_end"] == pd.Timestamp("2022-12-31")
    annual = join_fundamentals(bars, fundamentals, frequency="annual").set_index("date")
    assert annual.loc["2023-12-29", "period_end"] == pd.Timestamp("2022-12-31")  # within 480
