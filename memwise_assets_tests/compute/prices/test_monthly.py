"""Monthly slices of daily bars: any slicing of the tickers, any spill, stores the same months."""

import pandas as pd
import pytest

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.compute.prices.monthly import MonthStream, month_key, split_by_month

TICKERS = ["MSFT", "AAPL", "JPM", "KO", "XOM"]
MONTHS = ["2023-11", "2023-12", "2024-01", "2024-02"]
START, END = pd.Timestamp("2023-11-01"), pd.Timestamp("2024-03-01")


@pytest.mark.parametrize(("rows_per_slice", "hold_mb"), [(1, 0.0), (170, 1e-3), (10_000, 100.0)])
def test_months_match_one_fetch_split_by_month_for_any_slice_and_spill(
    rows_per_slice: int, hold_mb: float, tmp_path
) -> None:
    source = SamplePriceSource(seed=3)
    whole = split_by_month(source.fetch(TICKERS, START, END).frame)
    marks: list[tuple[int, int]] = []
    stream = MonthStream(
        source,
        TICKERS,
        START,
        END,
        MONTHS,
        spill_dir=tmp_path / "spill",
        hold_mb=hold_mb,
        rows_per_slice=rows_per_slice,
        on_slice=lambda i, n: marks.append((i, n)),
    )
    months = dict(stream.months())
    assert list(months) == MONTHS == list(whole)
    for key in MONTHS:
        pd.testing.assert_frame_equal(months[key], whole[key])
        assert (months[key]["date"].map(month_key) == key).all()
    assert stream.rows == sum(len(f) for f in whole.values())
    assert sorted(stream.result.ok) == sorted(TICKERS)
    assert marks[-1][0] == marks[-1][1] - 1 and len(marks) == marks[0][1]
    assert (stream.spills > 0) == (hold_mb < 1.0)
    assert not list((tmp_path / "spill").glob("*")) if stream.spills else True  # spills removed


def test_a_month_without_rows_is_an_empty_frame_of_the_contract_layout() -> None:
    months = dict(
        MonthStream(SamplePriceSource(), ["AAPL"], START, END, [*MONTHS, "2024-03"]).months()
    )
    assert len(months["2024-03"]) == 0
    assert list(months["2024-03"].columns) == list(months["2024-01"].columns)
