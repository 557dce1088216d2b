"""Bad price input: unknown and injection-like tickers, absurd ranges, NaN and negative prices."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from memwise_assets.compute.prices import CsvPriceSource, SamplePriceSource, normalize_tickers
from memwise_assets.defs.prices.assets import daily_bars

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def _csv(days: list[str], closes: list[str]) -> str:
    rows = [f"{d},{c},{c},{c},{c},{c},1000\n" for d, c in zip(days, closes, strict=True)]
    return HEADER + "".join(rows)


DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]


@pytest.fixture
def csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "GOOD.csv").write_text(_csv(DAYS, ["10", "11", "12", "13", "14"]))
    (folder / "DIRTY.csv").write_text(_csv(DAYS, ["10", "NaN", "-5", "0", "14"]))
    (folder / "WRONG.csv").write_text("when,price\n2024-01-02,10\n")
    (folder / "BINARY.csv").write_bytes(b"\x00\xff\xfe" * 100)
    return folder


def test_csv_faults_are_reported_and_skipped_per_ticker(csv_folder: Path) -> None:
    result = CsvPriceSource(csv_folder).fetch(
        ["GOOD", "DIRTY", "WRONG", "BINARY", "NOSUCH"], "2024-01-02", "2024-01-09"
    )
    report = result.report
    assert result.ok == ["GOOD", "DIRTY"]
    assert sorted(result.failed) == ["BINARY", "NOSUCH", "WRONG"]
    assert "no file NOSUCH.csv" in report["NOSUCH"].reason
    assert "expected columns" in report["WRONG"].reason
    dirty = result.frame[result.frame["symbol"] == "DIRTY"]
    assert dirty["close"].tolist() == [10.0, 14.0]  # NaN, negative and zero rows skipped
    assert sum(report["DIRTY"].issues.values()) >= 3
    good = result.frame[result.frame["symbol"] == "GOOD"]
    assert good["close"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert np.isfinite(result.frame[["open", "high", "low", "close"]].to_numpy()).all()


@pytest.mark.parametrize(
    "ticker",
    [
        "AAPL; DROP TABLE bars",
        "../../etc/passwd",
        "$(reboot)",
        "A\x00B",
        "<script>",
        "a b c d e f" * 5,
        "AAPL\nMSFT",
        "'; --",
        "`id`",
        "X" * 21,
        "",
        "   ",
    ],
)
def test_injection_like_tickers_are_refused_naming_them(ticker: str) -> None:
    with pytest.raises(ValueError, match="expected tickers|expected at least one ticker") as err:
        normalize_tickers([ticker])
    if ticker.strip():
        assert repr(ticker)[:20] in str(err.value)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-02-01", "2024-01-01", "expected start < end"),
        ("2024-01-01", "2024-01-01", "expected start < end"),
        ("1700-01-01", "1700-02-01", "expected dates within"),
        ("2024-01-01", "9999-01-01", "expected dates within"),
        ("not a date", "2024-01-01", "expected a date like '2024-01-31'; got 'not a date'"),
    ],
)
def test_reversed_and_absurd_ranges_are_refused(start: str, end: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplePriceSource().fetch(["AAPL"], start, end)


def test_a_hostile_ticker_fails_the_step_with_its_name(memwise_resources) -> None:
    result = dg.materialize(
        [daily_bars],
        resources=memwise_resources,
        partition_key="2024-01",
        run_config={"ops": {"daily_bars": {"config": {"tickers": ["AAPL", "../../etc/passwd"]}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert "'../../etc/passwd'" in text and "expected tickers" in text
    assert not any((memwise_resources["io_manager"].root / "daily_bars").glob("*.parquet"))
