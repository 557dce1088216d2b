"""Weekly bars, features and their attachment: exact against per-symbol pandas, and inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.bench.harness import measure
from memwise_assets.bench.weekly import (
    reference_bars,
    reference_features,
    reference_symbol,
    synthetic_daily,
)
from memwise_assets.bench.weekly_pipelines import memwise_pipeline
from memwise_assets.compute.weekly.features import (
    BAR_COLUMNS,
    FEATURE_COLUMNS,
    attach_weekly_features,
    features_from_weekly_bars,
    weekly_bars,
    weekly_features,
)
from memwise_assets_tests.builders.bars import ragged_daily
from memwise_assets_tests.builders.compare import assert_same

FIXTURES = Path(__file__).parents[2] / "fixtures" / "weekly"


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    return ragged_daily(seed=11)


def test_weekly_bars_equal_pandas_resample_per_symbol(daily: pd.DataFrame) -> None:
    bars = weekly_bars(daily)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars["n_days"].dtype == np.int8
    assert (bars["week_end"].dt.dayofweek == 4).all()
    for symbol, group in daily.groupby("symbol"):
        ours = bars[bars["symbol"] == symbol].reset_index(drop=True)
        theirs = reference_bars(group)
        np.testing.assert_array_equal(ours["week_end"], theirs["week_end"])
        for column in ("open", "high", "low", "close", "volume", "n_days"):
            np.testing.assert_array_equal(ours[column], theirs[column], err_msg=column)
    assert bars["n_days"].min() == 1


def test_every_feature_matches_the_pandas_formulas(daily: pd.DataFrame) -> None:
    features = weekly_features(daily)
    assert list(features.columns) == ["symbol", "week_end", *FEATURE_COLUMNS]
    assert all(features[c].dtype == np.float64 for c in FEATURE_COLUMNS)
    for symbol, group in daily.groupby("symbol"):
        ours = features[features["symbol"] == symbol].reset_index(drop=True)
        theirs = reference_features(reference_bars(group))
        for column in FEATURE_COLUMNS:
            assert_same(ours[column], theirs[column], f"{symbol} {column}")
    long_lived = features[features["symbol"] == "SYM00"]
    assert long_lived[list(FEATURE_COLUMNS)].iloc[-1].notna().all()


def test_flat_prices_give_rsi_100_and_zero_volatility(daily: pd.DataFrame) -> None:
    flat = weekly_features(daily[daily["symbol"] == "SYM01"])
    full = flat.iloc[60:]
    assert (full["rsi_14w"] == 100.0).all()
    assert (full["vol_13w"] == 0.0).all()
    assert (full["sma_ratio_4_13"] == 0.0).all()
    assert (full["ret_52w"] == 0.0).all()


def test_attach_equals_per_symbol_merge_asof_in_input_order(daily: pd.DataFrame) -> None:
    attached = attach_weekly_features(daily, weekly_features(daily))
    pd.testing.assert_index_equal(attached.index, daily.index)
    pd.testing.assert_frame_equal(attached[list(daily.columns)], daily)
    theirs = pd.concat(reference_symbol(g) for _, g in daily.groupby("symbol"))
    merged = attached.merge(theirs, on=["symbol", "date"], suffixes=("", "_ref"))
    assert len(merged) == len(daily)
    for column in FEATURE_COLUMNS:
        assert_same(merged[column], merged[f"{column}_ref"], column)


def test_friday_carries_its_own_week_monday_to_thursday_the_previous() -> None:
    dates = pd.to_datetime(["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-08",
                            "2024-01-11", "2024-01-12", "2024-01-15"])  # fmt: skip
    close = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])
    daily = pd.DataFrame({"symbol": "A", "date": dates, "open": close, "high": close + 1,
                          "low": close - 1, "close": close, "volume": 100.0})  # fmt: skip
    bars = weekly_bars(daily)
    # The Saturday belongs to the week ending the next Friday.
    assert bars["week_end"].tolist() == list(pd.to_datetime(["2024-01-05", "2024-01-12",
                                                              "2024-01-19"]))  # fmt: skip
    assert bars["close"].tolist() == [11.0, 15.0, 16.0]
    assert bars["n_days"].tolist() == [2, 4, 1]
    attached = attach_weekly_features(daily, weekly_features(daily))
    # range_1w of week 1 = (12 - 9) / 11, of week 2 = (16 - 11) / 15.
    expected = [np.nan, 3 / 11, 3 / 11, 3 / 11, 3 / 11, 5 / 15, 5 / 15]
    np.testing.assert_allclose(attached["range_1w"], expected)
    np.testing.assert_allclose(attached["ret_1w"], [np.nan] * 5 + [15 / 11 - 1] * 2)


def test_float32_and_categorical_inputs_give_the_float64_results(daily: pd.DataFrame) -> None:
    compact = daily.astype({c: np.float32 for c in ("open", "high", "low", "close", "volume")})
    compact["symbol"] = compact["symbol"].astype("category")
    widened = compact.astype({c: np.float64 for c in ("open", "high", "low", "close", "volume")})
    widened["symbol"] = widened["symbol"].astype(str)
    ours = weekly_features(compact)
    theirs = weekly_features(widened)
    for column in FEATURE_COLUMNS:
        np.testing.assert_array_equal(ours[column], theirs[column], err_msg=column)
    assert ours["symbol"].astype(str).tolist() == theirs["symbol"].astype(str).tolist()


def test_attach_by_search_matches_reference_for_any_week_end() -> None:
    # Week ends that are not Fridays force the binary-search path, and symbols that only
    # one side knows must get NaN or drop out.
    daily = ragged_daily(seed=5, n_symbols=5, n_days=300)
    rng = np.random.default_rng(3)
    rows = []
    for symbol in ["SYM00", "SYM02", "SYM03", "ZZZ"]:
        ends = np.sort(rng.choice(pd.date_range("2015-01-01", "2016-04-01"), 30, replace=False))
        rows.append(pd.DataFrame({"symbol": symbol, "week_end": ends, "x": rng.random(30)}))
    features = pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=1)
    attached = attach_weekly_features(daily, features)
    for symbol, group in daily.groupby("symbol"):
        mine = features[features["symbol"] == symbol].sort_values("week_end")
        ref = pd.merge_asof(group.sort_values("date"), mine.drop(columns="symbol"),
                            left_on="date", right_on="week_end")  # fmt: skip
        got = attached.loc[group.sort_values("date").index, "x"].to_numpy()
        np.testing.assert_array_equal(got, ref["x"].to_numpy(), err_msg=symbol)
    assert attached.loc[daily["symbol"] == "SYM01", "x"].isna().all()


def test_features_accept_bars_in_any_order(daily: pd.DataFrame) -> None:
    bars = weekly_bars(daily)
    shuffled = bars.sample(frac=1.0, random_state=2)
    shuffled["symbol"] = shuffled["symbol"].astype(str)
    pd.testing.assert_frame_equal(
        features_from_weekly_bars(shuffled).assign(symbol=lambda f: f["symbol"].astype(str)),
        features_from_weekly_bars(bars).assign(symbol=lambda f: f["symbol"].astype(str)),
    )


def test_real_prices_with_a_duplicate_date() -> None:
    raw = pd.concat(
        pd.read_csv(FIXTURES / name, parse_dates=["Date"]) for name in ("AAPL.csv.gz", "COH.csv.gz")
    )
    daily = raw.rename(columns=str.lower).rename(columns={"name": "symbol"})
    with pytest.raises(ValueError, match=r"1 duplicate rows.*'COH', 2017-10-30"):
        weekly_bars(daily)
    daily = daily.drop_duplicates(["symbol", "date"])
    features = weekly_features(daily)
    for symbol, group in daily.groupby("symbol"):
        theirs = reference_features(reference_bars(group))
        ours = features[features["symbol"] == symbol].reset_index(drop=True)
        for column in FEATURE_COLUMNS:
            assert_same(ours[column], theirs[column], f"{symbol} {column}")


def test_empty_input_gives_empty_tables() -> None:
    empty = ragged_daily(seed=1, n_symbols=1, n_days=20).iloc[:0]
    assert list(weekly_bars(empty).columns) == list(BAR_COLUMNS)
    assert len(weekly_features(empty)) == 0
    assert len(attach_weekly_features(empty, weekly_features(empty))) == 0


def test_memory_stays_within_three_times_the_input() -> None:
    daily = synthetic_daily(1000, 2520, seed=3)
    input_mb = daily.memory_usage(deep=True).sum() / 2**20
    attached, _, peak_mb = measure(memwise_pipeline, daily)
    assert len(attached) == len(daily)
    assert attached["rsi_14w"].notna().mean() > 0.97
    assert peak_mb <= 3 * input_mb, f"peak {peak_mb:.0f} MB for a {input_mb:.0f} MB input"


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_any_date_unit_and_time_of_day_keep_the_calendar_day(unit: str) -> None:
    daily = ragged_daily(seed=4, n_symbols=3, n_days=200)
    stamped = daily.assign(
        date=(daily["date"] + pd.Timedelta(hours=16)).astype(f"datetime64[{unit}]")
    )
    ours = weekly_features(stamped)
    theirs = weekly_features(daily)
    assert ours["week_end"].dtype == np.dtype(f"datetime64[{unit}]")
    np.testing.assert_array_equal(ours["week_end"], theirs["week_end"])
    np.testing.assert_array_equal(ours["rsi_14w"], theirs["rsi_14w"])
    attached = attach_weekly_features(stamped, ours)
    np.testing.assert_array_equal(
        attached["ret_4w"], attach_weekly_features(daily, theirs)["ret_4w"]
    )
