"""Price files that would overwrite good data: ambiguous values are refused per row, reported."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.prices import CsvPriceSource

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def _row(day: str, close: float, volume: str = "1000") -> str:
    return f"{day},{close},{close},{close},{close},{close},{volume}\n"


def _bars(folder: Path, ticker: str, start="2024-05-01", end="2024-06-30") -> pd.DataFrame:
    result = CsvPriceSource(folder).fetch([ticker], start, end)
    return result, result.frame.set_index("date")


def test_a_day_first_row_never_overwrites_the_real_bar_read_month_first(tmp_path: Path) -> None:
    # 05/06/2024 meant 5 June; read month-first it would replace the real 6 May bar.
    (tmp_path / "MIX.csv").write_text(
        HEADER + _row("2024-05-06", 10.0) + _row("2024-06-04", 20.0) + _row("05/06/2024", 99.0)
    )
    result, bars = _bars(tmp_path, "MIX")
    assert bars.loc["2024-05-06", "close"] == 10.0
    assert 99.0 not in set(bars["close"])
    assert result.report["MIX"].issues["bad_date"] == 1


def test_a_file_whose_rows_settle_the_order_is_read_that_way(tmp_path: Path) -> None:
    (tmp_path / "DMY.csv").write_text(HEADER + _row("13/05/2024", 1.0) + _row("05/06/2024", 2.0))
    _, bars = _bars(tmp_path, "DMY")
    assert list(bars.index.strftime("%Y-%m-%d")) == ["2024-05-13", "2024-06-05"]


def test_a_thousands_separated_volume_is_refused_not_zeroed(tmp_path: Path) -> None:
    (tmp_path / "VOL.csv").write_text(
        HEADER + _row("2024-05-06", 10.0, '"1,234,567"') + _row("2024-05-07", 11.0)
    )
    result, bars = _bars(tmp_path, "VOL")
    assert list(bars.index.strftime("%Y-%m-%d")) == ["2024-05-07"]
    assert result.report["VOL"].issues["unparsable_value"] == 1
    assert (bars["volume"] == 1000).all()


def test_names_differing_only_in_case_refuse_that_ticker(tmp_path: Path) -> None:
    (tmp_path / "ABC.csv").write_text(HEADER + _row("2024-05-06", 10.0))
    (tmp_path / "abc.csv").write_text(HEADER + _row("2024-05-06", 50.0))
    (tmp_path / "OK.csv").write_text(HEADER + _row("2024-05-06", 1.0))
    result = CsvPriceSource(tmp_path).fetch(["ABC", "OK"], "2024-05-01", "2024-05-31")
    assert "differ only in case" in result.report["ABC"].reason
    assert result.report["OK"].status == "ok"
    assert set(result.frame["symbol"].astype(str)) == {"OK"}


def test_a_symlink_outside_the_folder_is_refused_without_echoing_it(tmp_path: Path) -> None:
    folder, outside = tmp_path / "csv", tmp_path / "secret.csv"
    folder.mkdir()
    outside.write_text("TOP-SECRET-LINE,password\n")
    os.symlink(outside, folder / "LEAK.csv")
    (folder / "OK.csv").write_text(HEADER + _row("2024-05-06", 1.0))
    result = CsvPriceSource(folder).fetch(["LEAK", "OK"], "2024-05-01", "2024-05-31")
    reason = result.report["LEAK"].reason
    assert "symlink pointing outside" in reason
    assert "TOP-SECRET" not in reason and "password" not in reason


@pytest.mark.parametrize("day", ["6-May-2024", '"May 6, 2024"'])
def test_dates_that_spell_the_month_are_still_read(tmp_path: Path, day: str) -> None:
    (tmp_path / "NAMED.csv").write_text(HEADER + _row(day, 10.0))
    _, bars = _bars(tmp_path, "NAMED")
    assert list(bars.index.strftime("%Y-%m-%d")) == ["2024-05-06"]
