"""Weekly conventions that decide look-ahead: holes split the series, the unfinished week is
left out, total-return prices, and when a week becomes available to a daily row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memwise_assets.bench.weekly import reference_bars, reference_features
from memwise_assets.compute.prices import trading_days
from memwise_assets.compute.series.holes import find_holes, nyse_sessions
from memwise_assets.compute.weekly.features import (
    FEATURE_COLUMNS,
    attach_weekly_features,
    weekly_bars,
    weekly_features,
)
from memwise_assets_tests.builders.bars import bars_on
from memwise_assets_tests.builders.compare import assert_same


@pytest.fixture(scope="module")
def holey() -> pd.DataFrame:
    """AAPL with bars for 2022-06-01..06-10 and for 2024 (a two-year hole); MSFT with every
    session of both years, listed 2022-06-01; IBM delisted 2024-05-15; all on NYSE sessions."""
    aapl = trading_days("2022-06-01", "2022-06-11").append(trading_days("2024-01-01", "2025-01-01"))
    msft = trading_days("2022-06-01", "2025-01-01")
    ibm = trading_days("2023-03-01", "2024-05-16")
    return pd.concat(
        [bars_on("AAPL", aapl, 1), bars_on("MSFT", msft, 2), bars_on("IBM", ibm, 3)],
        ignore_index=True,
    )


def test_only_gaps_with_bars_on_both_sides_are_holes(holey: pd.DataFrame) -> None:
    holes = find_holes(holey, nyse_sessions(holey["date"]))
    assert holes["symbol"].tolist() == ["AAPL"]  # listing and delisting are not holes
    assert holes["last_before"].iloc[0] == pd.Timestamp("2022-06-10")
    assert holes["first_after"].iloc[0] == pd.Timestamp("2024-01-02")
    assert holes["missing_sessions"].iloc[0] == len(trading_days("2022-06-11", "2024-01-02"))


def test_no_feature_or_attached_row_spans_the_hole(holey: pd.DataFrame) -> None:
    sessions = nyse_sessions(holey["date"])
    features = weekly_features(holey, sessions=sessions)
    aapl = features[features["symbol"] == "AAPL"].set_index("week_end")
    # Without the split, this is an 18-month return against the 2022-06-10 close.
    assert np.isnan(aapl.loc["2024-01-05", "ret_1w"])
    # After the hole the features are those of a series that starts in 2024.
    after = holey[(holey["symbol"] == "AAPL") & (holey["date"] >= "2024-01-01")]
    # (2024-12-31 is a Tuesday: the week of 2025-01-03 is unfinished and left out.)
    theirs = reference_features(reference_bars(after)).iloc[:-1]
    ours = aapl.loc["2024-01-01":].reset_index()
    assert ours["week_end"].max() == pd.Timestamp("2024-12-27")
    for column in FEATURE_COLUMNS:
        assert_same(ours[column], theirs[column], column)
    attached = attach_weekly_features(holey, features, sessions=sessions)
    first_days = attached[(attached["symbol"] == "AAPL") & (attached["date"] < "2024-01-05")]
    # Rows of 2024 before its first week closed must not carry the week of 2022-06-10.
    assert (
        first_days.loc[first_days["date"] >= "2024-01-01", list(FEATURE_COLUMNS)]
        .isna()
        .all(axis=None)
    )
    # Symbols without holes are untouched by the split.
    msft = holey[holey["symbol"] == "MSFT"]
    plain = weekly_features(msft)
    split = features[features["symbol"] == "MSFT"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        split[list(FEATURE_COLUMNS)], plain.iloc[: len(split)][list(FEATURE_COLUMNS)]
    )


def test_holes_found_by_grid_or_by_sorting_give_the_same_rows(
    holey: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memwise_assets.compute.series import holes

    sessions = nyse_sessions(holey["date"])
    shuffled = holey.sample(frac=1.0, random_state=3)
    features = weekly_features(shuffled, sessions=sessions)
    by_grid = attach_weekly_features(shuffled, features, sessions=sessions)
    monkeypatch.setattr(holes, "GRID_CELLS", 0)
    monkeypatch.setattr(holes, "_GRID_ROWS_FACTOR", 0)
    by_sort = attach_weekly_features(shuffled, features, sessions=sessions)
    pd.testing.assert_frame_equal(by_grid, by_sort)
    aapl_early = (holey["symbol"] == "AAPL") & (holey["date"] == "2024-01-03")
    assert by_grid.loc[holey.index[aapl_early], "ret_1w"].isna().all()
    assert by_grid["ret_1w"].notna().sum() > 100


def test_a_mid_week_hole_drops_the_bars_before_it_in_that_week() -> None:
    days = trading_days("2024-01-01", "2024-04-01")
    dropped = pd.DatetimeIndex(["2024-02-13", "2024-02-14"])  # Tuesday, Wednesday
    daily = bars_on("A", days.difference(dropped), 4)
    bars = weekly_bars(daily, sessions=nyse_sessions(daily["date"]))
    week = bars[bars["week_end"] == "2024-02-16"].iloc[0]
    # Thursday and Friday only: Monday 12th lies before the hole.
    assert week["n_days"] == 2
    thursday = daily[daily["date"] == "2024-02-15"].iloc[0]
    assert week["open"] == thursday["open"]
    features = weekly_features(daily, sessions=nyse_sessions(daily["date"]))
    after = features[features["week_end"] >= "2024-02-16"]
    assert after["ret_1w"].iloc[0] != after["ret_1w"].iloc[0]  # NaN: a new segment begins
    assert after["ret_1w"].iloc[1:].notna().all()


def test_the_unfinished_current_week_is_left_out() -> None:
    daily = bars_on("A", trading_days("2024-03-04", "2024-03-21"), 5)  # ends Wed 2024-03-20
    sessions = nyse_sessions(daily["date"])
    ends = weekly_features(daily, sessions=sessions)["week_end"]
    assert ends.max() == pd.Timestamp("2024-03-15")
    # A week whose Friday is a holiday is complete at its Thursday (Good Friday 2024-03-29).
    easter = bars_on("A", trading_days("2024-03-18", "2024-03-29"), 6)
    ends = weekly_features(easter, sessions=nyse_sessions(easter["date"]))["week_end"]
    assert ends.max() == pd.Timestamp("2024-03-29")


def test_adj_close_features_equal_the_reference_on_adjusted_bars(holey: pd.DataFrame) -> None:
    daily = holey[holey["symbol"] == "MSFT"]
    factor = daily["adj_close"] / daily["close"]
    adjusted = daily.assign(**{c: daily[c] * factor for c in ("open", "high", "low")})
    adjusted["close"] = daily["adj_close"]
    theirs = reference_features(reference_bars(adjusted))
    ours = weekly_features(daily, price_field="adj_close")
    for column in FEATURE_COLUMNS:
        assert_same(ours[column], theirs[column], column)
    # Dividends make the two price fields differ.
    assert not np.allclose(ours["ret_52w"], weekly_features(daily)["ret_52w"], equal_nan=True)
    with pytest.raises(ValueError, match="price_field"):
        weekly_features(daily, price_field="open")


def test_next_session_shifts_every_week_by_one_session(holey: pd.DataFrame) -> None:
    daily = holey[holey["symbol"] != "AAPL"].reset_index(drop=True)
    sessions = nyse_sessions(daily["date"])
    features = weekly_features(daily, sessions=sessions)
    # Each week marked by its week_end as a day number, to read back which week a row got.
    marked = features.assign(week=features["week_end"].to_numpy().astype("datetime64[D]")
                             .astype(np.int64).astype(np.float64))  # fmt: skip
    same = attach_weekly_features(daily, marked, ["week"], sessions=sessions)
    nxt = attach_weekly_features(
        daily, marked, ["week"], available="next_session", sessions=sessions
    )
    session_days = sessions.to_numpy().astype("datetime64[D]").astype(np.int64)
    for _, rows in daily.groupby("symbol"):
        order = rows.sort_values("date").index
        week_same = same.loc[order, "week"].to_numpy()
        week_next = nxt.loc[order, "week"].to_numpy()
        row_days = rows.loc[order, "date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        # No attached week ends on or after the row's date.
        known = ~np.isnan(week_next)
        assert (week_next[known] < row_days[known]).all()
        # Each row carries the week the previous session carried under same_close, except
        # a week whose Friday was no session (Good Friday): it first appears on the next
        # session in both modes.
        appears = week_same[1:] != week_same[:-1]
        friday_closed = appears & ~np.isin(np.nan_to_num(week_same[1:]), session_days)
        expected = np.where(friday_closed, week_same[1:], week_same[:-1])
        np.testing.assert_array_equal(week_next[1:], expected)
        assert friday_closed.sum() >= 1  # the case is really exercised
    good_friday = float(np.datetime64("2024-03-29", "D").astype(np.int64))
    assert same.loc[same["week"] == good_friday, "date"].min() == pd.Timestamp("2024-04-01")
    assert nxt.loc[nxt["week"] == good_friday, "date"].min() == pd.Timestamp("2024-04-01")
    with pytest.raises(ValueError, match="available"):
        attach_weekly_features(daily, features, available="tomorrow")
