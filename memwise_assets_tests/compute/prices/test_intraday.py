"""Reading minute and mlfinlab-style bar CSVs into one symbol/timestamp/OHLCV table."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memwise_assets.compute.prices.intraday import COLUMNS, read_intraday_bars

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labels"


def test_reads_both_layouts(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "DBB_1min_head200.csv", tmp_path)
    shutil.copy(FIXTURES / "ES_tick_bars_head100.csv", tmp_path)
    bars = read_intraday_bars(tmp_path)
    assert list(bars.columns) == COLUMNS
    assert bars.groupby("symbol", observed=True).size().to_dict() == {"DBB": 200, "ES": 100}
    first_es = bars[bars.symbol == "ES"].iloc[0]
    # date_time,open,high,low,close,cum_vol: 2015-01-01 23:16:58.834,2051.5,...,8377
    assert first_es.timestamp == pd.Timestamp("2015-01-01 23:16:58.834")
    assert (first_es.open, first_es.close, first_es.volume) == (2051.5, 2058.75, 8377.0)
    first_dbb = bars[bars.symbol == "DBB"].iloc[0]
    assert first_dbb.timestamp == pd.Timestamp("2023-07-10 13:30:00")
    assert (first_dbb.close, first_dbb.volume) == (17.91, 3057.0)
    assert isinstance(bars.symbol.dtype, pd.CategoricalDtype)
    assert bars.close.dtype == np.float64


def test_pattern_selects_and_reads_gzip(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "ES_dollar_bars_head3000.csv.gz", tmp_path)
    shutil.copy(FIXTURES / "DBB_1min_head200.csv", tmp_path)
    bars = read_intraday_bars(tmp_path, pattern="*_dollar_*.csv.gz")
    assert len(bars) == 3000 and set(bars.symbol) == {"ES"}
    assert bars.timestamp.is_monotonic_increasing


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no file"):
        read_intraday_bars(tmp_path)
    with pytest.raises(ValueError, match="expected a folder"):
        read_intraday_bars(tmp_path / "missing")
    (tmp_path / "AAA_bars.csv").write_text("when,price\n2020-01-01,1\n")
    with pytest.raises(ValueError, match=r"AAA_bars.csv: expected columns.*'when', 'price'"):
        read_intraday_bars(tmp_path)
    (tmp_path / "AAA_bars.csv").write_text(
        "timestamp,open,high,low,close,volume\n2020-01-01,1,1,1,1,5\nnot a time,1,1,1,x,5\n"
    )
    with pytest.raises(ValueError, match=r"1 bad lines, e.g. lines \[3\]"):
        read_intraday_bars(tmp_path)
    (tmp_path / "AAA_bars.csv").write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(ValueError, match="header only"):
        read_intraday_bars(tmp_path)
    (tmp_path / "AAA_bars.csv").write_text("")
    with pytest.raises(ValueError, match="could not parse"):
        read_intraday_bars(tmp_path)
    shutil.copy(FIXTURES / "ES_tick_bars_head100.csv", tmp_path / "AAA_other.csv")
    with pytest.raises(ValueError, match="both symbol AAA"):
        read_intraday_bars(tmp_path)
