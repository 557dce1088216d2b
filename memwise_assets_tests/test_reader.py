"""`memwise_assets.load` and `memwise path`: stored assets into pandas, only what is asked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from memwise_assets import asset_path, load
from memwise_assets.cli.commands import main


def _bars(symbols: list[str], days: pd.DatetimeIndex) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(s, d, float(i)) for s in symbols for i, d in enumerate(days)],
        columns=["symbol", "date", "close"],
    )
    frame["symbol"] = frame["symbol"].astype("category")
    return frame


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with one file per asset, a folder of monthly files and a `ticker` table."""
    data = tmp_path / "memwise" / "data"
    (data / "daily_bars").mkdir(parents=True)
    for month in ("2024-01", "2024-02", "2024-03"):
        days = pd.bdate_range(f"{month}-01", periods=15)
        _bars(["AAPL", "MSFT", "NVDA"], days).to_parquet(data / "daily_bars" / f"{month}.parquet")
    weeks = _bars(["AAPL", "MSFT", "NVDA"], pd.bdate_range("2023-01-02", "2024-12-31"))
    weeks.to_parquet(data / "daily_with_weekly_features.parquet", row_group_size=100)
    profiles = pd.DataFrame({"ticker": ["AAPL", "MSFT"], "name": ["Apple", "Microsoft"]})
    profiles.to_parquet(data / "company_profiles.parquet")
    return tmp_path


def test_a_file_by_symbols_dates_and_columns(home: Path) -> None:
    frame = load(
        "daily_with_weekly_features",
        start="2024-01-01",
        end="2024-12-31",
        symbols=["aapl", "MSFT"],
        columns=["symbol", "date", "close"],
        home=home,
    )
    assert list(frame.columns) == ["symbol", "date", "close"]
    assert set(frame["symbol"]) == {"AAPL", "MSFT"}
    assert list(frame["symbol"].cat.categories) == ["AAPL", "MSFT"]
    assert frame["date"].min() >= pd.Timestamp("2024-01-01")
    # The end is inclusive: the last business day of 2024 is there.
    assert frame["date"].max() == pd.Timestamp("2024-12-31")


def test_a_folder_of_partitions_reads_as_one_table(home: Path) -> None:
    assert asset_path("daily_bars", home).is_dir()
    frame = load("daily_bars", start="2024-02-01", end="2024-02-29", symbols=["NVDA"], home=home)
    assert len(frame) == 15 and set(frame["symbol"]) == {"NVDA"}
    assert frame["date"].dt.month.unique().tolist() == [2]


def test_ticker_tables_answer_to_symbol_and_keep_ticker(home: Path) -> None:
    frame = load("company_profiles", symbols=["MSFT"], columns=["symbol", "name"], home=home)
    assert frame.to_dict("records") == [{"symbol": "MSFT", "name": "Microsoft"}]
    both = load("company_profiles", home=home)
    assert list(both.columns[:2]) == ["symbol", "ticker"]
    assert list(load("company_profiles", columns=["ticker"], home=home).columns) == ["ticker"]


def test_bad_requests_say_what_exists(home: Path) -> None:
    with pytest.raises(ValueError, match="has no columns"):
        load("daily_bars", columns=["clos"], home=home)
    with pytest.raises(FileNotFoundError, match="daily_bars"):
        load("weekly_featurez", home=home)


def test_the_filter_is_pushed_down(home: Path) -> None:
    # Row groups of 100 rows: a one-month, one-symbol read touches few of them.
    path = asset_path("daily_with_weekly_features", home)
    assert pq.ParquetFile(path).metadata.num_row_groups > 10
    frame = load("daily_with_weekly_features", start="2024-03-01", end="2024-03-31", home=home)
    assert len(frame) == 3 * 21


def test_memwise_path_prints_the_stored_path(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["path", "daily_bars", "--home", str(home)]) == 0
    assert capsys.readouterr().out.strip() == str(home / "memwise" / "data" / "daily_bars")
    assert main(["path", "nothing_here", "--home", str(home)]) == 1
    assert "daily_bars" in capsys.readouterr().err
