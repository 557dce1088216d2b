"""Non-finite prices and volumes: refused with a reason through `daily_bars`, never stored,
never wrapped into int64; a check fails on any non-finite value that reaches a frame."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.prices import CsvPriceSource, validate_bars
from memwise_assets.compute.prices.clean import clean_bars
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.prices.checks import FINITE_VALUES, price_check_results

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
ROWS = {
    "GOOD": ["10,10,10,10,10,1000"] * 5,
    # inf close, inf high, inf adj_close, -inf open, then a clean row.
    "INFP": [
        "10,10,10,inf,10,1000",
        "10,inf,10,10,10,1000",
        "10,10,10,10,inf,1000",
        "-inf,10,10,10,10,1000",
        "11,11,11,11,11,1000",
    ],  # fmt: skip
    # inf volume, volumes past int64 and past 1e15 shares, -inf (negative), then a clean row.
    "INFV": [
        "10,10,10,10,10,inf",
        "10,10,10,10,10,1e19",
        "10,10,10,10,10,-inf",
        "10,10,10,10,10,9.3e18",
        "12,12,12,12,12,5",
    ],  # fmt: skip
}


@pytest.fixture
def csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    for ticker, rows in ROWS.items():
        body = "".join(f"{d},{r}\n" for d, r in zip(DAYS, rows, strict=True))
        (folder / f"{ticker}.csv").write_text(HEADER + body)
    return folder


def test_source_refuses_non_finite_values_with_a_reason(csv_folder: Path) -> None:
    result = CsvPriceSource(csv_folder).fetch(list(ROWS), "2024-01-02", "2024-01-09")
    frame = result.frame
    assert np.isfinite(frame[["open", "high", "low", "close", "adj_close"]].to_numpy()).all()
    assert (frame["volume"] >= 0).all() and frame["volume"].dtype == np.int64
    assert frame.loc[frame["symbol"] == "INFP", "close"].tolist() == [11.0]
    assert frame.loc[frame["symbol"] == "INFV", "volume"].tolist() == [5]
    assert result.report["INFP"].issues["non_finite_price"] == 4
    assert "infinite price" in result.report["INFP"].reason
    assert result.report["INFV"].issues["non_finite_volume"] == 3
    assert result.report["INFV"].issues["negative_volume"] == 1
    assert "1e15 shares" in result.report["INFV"].reason


def test_daily_bars_stores_no_non_finite_value(memwise_resources, csv_folder: Path) -> None:
    result = dg.materialize(
        [daily_bars],
        resources=memwise_resources,
        partition_key="2024-01",
        run_config={
            "ops": {
                "daily_bars": {
                    "config": {
                        "source": "csv",
                        "csv_folder": str(csv_folder),
                        "tickers": list(ROWS),
                    }
                }
            }
        },
    )
    assert result.success
    stored = pd.concat(
        pd.read_parquet(p)
        for p in (memwise_resources["io_manager"].root / "daily_bars").rglob("*.parquet")
    )
    prices = stored[["open", "high", "low", "close", "adj_close"]].to_numpy(dtype="float64")
    assert np.isfinite(prices).all()
    assert (stored["volume"] >= 0).all()
    assert np.iinfo(np.int64).min not in stored["volume"].tolist()
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks[FINITE_VALUES].passed


def test_the_finite_check_fails_on_any_non_finite_value() -> None:
    frame = pd.DataFrame(
        {
            "symbol": pd.Categorical(["A", "A", "B"]),
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02"]),
            "open": [1.0, 1.0, 1.0],
            "high": [np.inf, 1.0, 1.0],
            "low": [1.0, 1.0, 1.0],
            "close": [1.0, 1.0, 1.0],
            "adj_close": [1.0, 1.0, -np.inf],
            "volume": np.array([1, np.iinfo(np.int64).min, 3], dtype=np.int64),
        }
    )
    results = {r.check_name: r for r in price_check_results([frame], ["A", "B"], [])}
    assert not results[FINITE_VALUES].passed
    assert results[FINITE_VALUES].metadata["non_finite_rows"].value == 3
    with pytest.raises(ValueError, match="infinite"):
        validate_bars(frame.assign(volume=[1, 2, 3]))


def test_clean_bars_never_wraps_a_volume() -> None:
    raw = pd.DataFrame(
        {
            "symbol": ["A"] * 4,
            "date": DAYS[:4],
            **{c: [1.0] * 4 for c in ("open", "high", "low", "close", "adj_close")},
            "volume": [np.inf, 2.0**63, 9.22e18, 7.0],  # 2**63 wraps; 9.22e18 x 2 would
        }
    )
    frame, issues = clean_bars(raw, ["A"], pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"))
    assert frame["volume"].tolist() == [7]
    assert issues["A"]["non_finite_volume"] == 3
    assert int(frame["volume"].sum()) == 7


@pytest.mark.parametrize("line", ["10,inf,10,10,100", "10,10,10,-inf,100", "10,10,10,10,inf"])
def test_intraday_bars_refuse_non_finite_values(tmp_path: Path, line: str) -> None:
    from memwise_assets.compute.prices.intraday import read_intraday_bars

    (tmp_path / "ES_minute.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        f"2024-01-02 09:30,10,10,10,10,100\n2024-01-02 09:31,{line}\n"
    )
    with pytest.raises(ValueError, match="finite .* lines \\[3\\]"):
        read_intraday_bars(tmp_path)
