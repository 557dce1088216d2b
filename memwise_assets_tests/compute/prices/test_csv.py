"""CsvPriceSource on trimmed real Yahoo exports and on hand-made faulty files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.prices import (
    BAR_COLUMNS,
    CsvPriceSource,
    PriceSourceError,
    bars_issues,
    trading_days,
)

REAL = Path(__file__).parents[2] / "fixtures" / "prices" / "csv"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume,Name\n"


@pytest.fixture(scope="module")
def real() -> CsvPriceSource:
    return CsvPriceSource(REAL)


def test_contract_layout_on_real_files(real: CsvPriceSource) -> None:
    res = real.fetch(["msft", "AAPL"], "2017-10-02", "2017-12-07")
    frame = res.frame
    assert list(frame.columns) == list(BAR_COLUMNS)
    assert list(frame["symbol"].cat.categories) == ["AAPL", "MSFT"]
    assert frame["date"].dtype == "datetime64[ns]" and frame["volume"].dtype == "int64"
    assert frame["symbol"].astype(str).tolist() == ["AAPL"] * 47 + ["MSFT"] * 47
    first = frame.iloc[0]
    assert (first["date"], first["close"], first["adj_close"], first["volume"]) == (
        pd.Timestamp("2017-10-02"), 153.809998, 153.259048, 18698800,
    )  # fmt: skip
    assert res.report["AAPL"].status == "ok" and res.report["AAPL"].rows == 47
    assert bars_issues(frame)["duplicates"] == 0


def test_start_inclusive_end_exclusive(real: CsvPriceSource) -> None:
    frame = real.fetch(["AAPL"], "2017-11-01", "2017-11-03").frame
    assert frame["date"].tolist() == [pd.Timestamp("2017-11-01"), pd.Timestamp("2017-11-02")]


def test_conflicting_duplicate_keeps_last_and_is_reported(real: CsvPriceSource) -> None:
    res = real.fetch(["COH"], "2017-10-02", "2017-12-07")
    coh = res.frame[res.frame["date"] == "2017-10-30"]
    assert len(coh) == 1 and coh["volume"].item() == 2971978  # the second of the two rows
    rep = res.report["COH"]
    assert rep.issues == {"duplicates": 1, "duplicates_conflicting": 1}
    assert "last bar 2017-10-30 (delisted or file ends)" in rep.reason
    assert rep.last_date == pd.Timestamp("2017-10-30") and rep.rows == 21


def test_identical_duplicate_collapses_and_zero_volume_is_kept(real: CsvPriceSource) -> None:
    res = real.fetch(["LVLT"], "2017-10-02", "2017-12-07")
    assert res.frame["date"].is_unique and len(res.frame) == 23
    assert res.frame["volume"].iloc[-1] == 0
    assert res.report["LVLT"].issues == {"duplicates": 1, "zero_volume": 1}


def test_partial_last_day_ohlc_is_repaired(real: CsvPriceSource) -> None:
    res = real.fetch(["COST"], "2017-12-06", "2017-12-07")
    row = res.frame.iloc[0]
    # The 2017-12-06 snapshot has open 189.67 above high 187.975: high is widened to open.
    assert row["high"] == row["open"] == 189.669998
    assert res.report["COST"].issues == {"ohlc_repaired": 1}
    assert bars_issues(res.frame)["ohlc_inconsistent"] == 0


def test_late_listing_is_noted_and_range_before_it_is_empty(real: CsvPriceSource) -> None:
    res = real.fetch(["KHC", "AMD"], "2015-06-01", "2015-08-01")
    assert res.report["KHC"].first_date == pd.Timestamp("2015-07-06")
    assert "first bar 2015-07-06 (late listing" in res.report["KHC"].reason
    before = real.fetch(["KHC", "AAPL"], "2015-06-01", "2015-07-01")
    khc = before.report["KHC"]
    assert khc.status == "empty" and "outside the range" in khc.reason
    assert before.report["AAPL"].status == "empty"


def test_unknown_ticker_fails_alone_and_all_unknown_raises(real: CsvPriceSource) -> None:
    res = real.fetch(["AAPL", "NOPE"], "2017-10-02", "2017-10-10")
    assert res.failed == ["NOPE"] and "no file NOPE.csv" in res.report["NOPE"].reason
    assert res.summary()["failed_tickers"] == ["NOPE"]
    with pytest.raises(PriceSourceError, match="every requested ticker failed"):
        real.fetch(["NOPE", "NADA"], "2017-10-02", "2017-10-10")
    with pytest.raises(PriceSourceError, match="not a folder"):
        CsvPriceSource(REAL / "missing").fetch(["AAPL"], "2017-10-02", "2017-10-10")


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


def test_faulty_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "BAD.csv",
        HEADER
        + "2017-10-04,10,11,9,10.5,10.5,100,BAD\n"  # out of order: sorted later
        + "2017-10-02,10,11,9,NaN,10,100,BAD\n"  # NaN close
        + "2017-10-03,-1,11,9,10,10,100,BAD\n"  # negative open
        + "2017-10-05,0,11,9,10,10,100,BAD\n"  # zero open
        + "2017-10-07,10,11,9,10,10,100,BAD\n"  # a Saturday
        + "not-a-date,10,11,9,10,10,100,BAD\n"
        + "2017-10-06,10,11,9,oops,10,100,BAD\n"  # text in a numeric column
        + "2017-10-09,10,11,9,10,10,,BAD\n"  # missing volume
        + "2017-10-10,10,11,9,10,10,-5,BAD\n",  # negative volume
    )
    res = CsvPriceSource(tmp_path).fetch(["BAD"], "2017-10-01", "2017-10-31")
    assert res.frame["date"].tolist() == [pd.Timestamp("2017-10-04"), pd.Timestamp("2017-10-09")]
    assert res.frame["volume"].tolist() == [100, 0]
    assert res.report["BAD"].issues == {
        "bad_date": 1, "off_calendar": 1, "bad_price": 4, "negative_volume": 1,
        "missing_volume": 1, "missing_days": 2,
    }  # fmt: skip
    assert "rows skipped for NaN/zero/negative prices" in res.report["BAD"].reason


def test_snake_headers_without_adj_close_and_offset_dates(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "low.csv",
        "date,open,high,low,close,volume\n"
        "2017-10-02 00:00:00-04:00,10,11,9,10.5,100\n"
        "2017-10-03 00:00:00-04:00,10.5,12,10,11,200\n",
    )
    res = CsvPriceSource(tmp_path).fetch(["LOW"], "2017-10-02", "2017-10-04")
    assert res.frame["date"].tolist() == [pd.Timestamp("2017-10-02"), pd.Timestamp("2017-10-03")]
    assert res.frame["adj_close"].tolist() == [10.5, 11.0]
    assert res.report["LOW"].issues == {"adj_close_from_close": 2}


def test_wrong_columns_fail_that_ticker_naming_the_expected_ones(tmp_path: Path) -> None:
    _write(tmp_path, "ODD.csv", "day,price\n2017-10-02,10\n")
    _write(tmp_path, "EMPTY.csv", "")
    shutil.copy(REAL / "AAPL.csv", tmp_path / "AAPL.csv")
    res = CsvPriceSource(tmp_path).fetch(["ODD", "EMPTY", "AAPL"], "2017-10-02", "2017-10-04")
    assert sorted(res.failed) == ["EMPTY", "ODD"]
    reason = res.report["ODD"].reason
    assert "expected columns Date, Open, High, Low, Close" in reason
    assert "['day', 'price']" in reason
    assert res.report["AAPL"].rows == 2


def test_gzipped_and_lowercase_file_names(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "msft.csv.gz", "wt") as fh:
        fh.write((REAL / "MSFT.csv").read_text())
    res = CsvPriceSource(tmp_path).fetch(["MSFT"], "2017-10-02", "2017-12-07")
    assert len(res.frame) == 47
    assert list(res.frame["date"]) == list(trading_days("2017-10-02", "2017-12-07"))
