"""A week is complete per symbol: a late symbol's partial week is never stored as finished."""

from __future__ import annotations

import pandas as pd
import pytest

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.compute.series.holes import nyse_sessions
from memwise_assets.compute.weekly.features import (
    attach_weekly_features,
    weekly_bars,
    weekly_features,
)

WEEK = pd.Timestamp("2017-11-17")


@pytest.fixture(scope="module")
def delivered() -> pd.DataFrame:
    bars = SamplePriceSource().fetch(["AAPL", "KO"], "2016-06-01", "2017-11-18").frame
    return bars[["symbol", "date", "open", "high", "low", "close", "volume"]]


def _late(delivered: pd.DataFrame) -> pd.DataFrame:
    """AAPL's Thursday and Friday of the week of 2017-11-17 not yet delivered; KO complete."""
    late = (delivered["symbol"] == "AAPL") & (delivered["date"] >= "2017-11-16")
    return delivered[~late].reset_index(drop=True)


def _weeks(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    rows = frame[frame["symbol"].astype(str) == symbol]
    return rows.drop(columns="symbol").set_index("week_end")


def test_lagging_symbol_week_is_not_stored_until_its_own_week_is_complete(delivered) -> None:
    daily = _late(delivered)
    sessions = nyse_sessions(daily["date"])
    bars = weekly_bars(daily, sessions=sessions)
    features = weekly_features(daily, sessions=sessions)
    assert WEEK in _weeks(bars, "KO").index  # KO delivered its whole week
    assert WEEK not in _weeks(bars, "AAPL").index  # AAPL's has 3 of its 5 days
    assert WEEK not in _weeks(features, "AAPL").index
    # Once AAPL's days arrive, its week is stored with the full week's close.
    full = weekly_bars(delivered, sessions=nyse_sessions(delivered["date"]))
    aapl = _weeks(full, "AAPL").loc[WEEK]
    friday = delivered[(delivered["symbol"] == "AAPL") & (delivered["date"] == WEEK)]
    assert aapl["n_days"] == 5 and aapl["close"] == friday["close"].item()


def test_every_symbol_alone_gives_what_it_gives_among_others(delivered) -> None:
    daily = _late(delivered)
    together = weekly_features(daily, sessions=nyse_sessions(daily["date"]))
    for symbol in ("AAPL", "KO"):
        alone_daily = daily[daily["symbol"] == symbol].reset_index(drop=True)
        alone = weekly_features(alone_daily, sessions=nyse_sessions(alone_daily["date"]))
        pd.testing.assert_frame_equal(_weeks(alone, symbol), _weeks(together, symbol))


def test_a_holiday_week_completes_on_its_last_session(delivered) -> None:
    # Thanksgiving week 2016: Friday 11-25 is a half day but a session; the week of
    # 2016-07-01 ends Friday; the week of 2016-11-25 with Friday present is complete.
    daily = delivered[delivered["date"] <= "2016-11-25"].reset_index(drop=True)
    bars = weekly_bars(daily, sessions=nyse_sessions(daily["date"]))
    assert pd.Timestamp("2016-11-25") in _weeks(bars, "AAPL").index
    # Good Friday 2017-04-14 is no session: the week is complete on Thursday.
    daily = delivered[delivered["date"] <= "2017-04-13"].reset_index(drop=True)
    bars = weekly_bars(daily, sessions=nyse_sessions(daily["date"]))
    assert pd.Timestamp("2017-04-14") in _weeks(bars, "KO").index


def test_a_row_never_carries_a_week_older_than_thirteen_days(delivered) -> None:
    daily = _late(delivered)
    sessions = nyse_sessions(daily["date"])
    features = weekly_features(daily, sessions=sessions)
    # The week's Friday as a number (days since the epoch) travels with the features.
    day = features["week_end"].to_numpy("datetime64[D]").astype("int64").astype("float64")
    numbered = features.assign(week_day=day)
    for available in ("same_close", "next_session"):
        attached = attach_weekly_features(
            daily, numbered, ["week_day"], available=available, sessions=sessions
        )
        row_day = attached["date"].to_numpy("datetime64[D]").astype("int64")
        age = (row_day - attached["week_day"].to_numpy()).astype("float64")
        carried = ~pd.isna(age)
        assert carried.mean() > 0.9
        assert (age[carried] <= 13).all()
        assert (age[carried] >= (0 if available == "same_close" else 1)).all()


def test_max_age_days_drops_older_weeks(delivered) -> None:
    daily = delivered[delivered["symbol"] == "KO"].reset_index(drop=True)
    features = weekly_features(daily, sessions=nyse_sessions(daily["date"]))
    # Every other week missing from the features: rows would carry a two-week-old week.
    sparse = features[features["week_end"].dt.isocalendar().week % 2 == 0]
    loose = attach_weekly_features(daily, sparse, ["ret_1w"])
    tight = attach_weekly_features(daily, sparse, ["ret_1w"], max_age_days=7)
    assert tight["ret_1w"].isna().sum() > loose["ret_1w"].isna().sum()
    kept = tight["ret_1w"].notna()
    assert (tight.loc[kept, "ret_1w"] == loose.loc[kept, "ret_1w"]).all()
