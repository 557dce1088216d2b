"""Monthly slices of daily bars: any slicing of the tickers stores the same months."""

import pandas as pd
import pytest

from memwise_assets.compute.prices import SamplePriceSource
from memwise_assets.compute.prices.monthly import fetch_months, month_key, split_by_month

TICKERS = ["MSFT", "AAPL", "JPM", "KO", "XOM"]
MONTHS = ["2023-11", "2023-12", "2024-01", "2024-02"]
START, END = pd.Timestamp("2023-11-01"), pd.Timestamp("2024-03-01")


@pytest.mark.parametrize("rows_per_slice", [1, 170, 10_000])
def test_months_match_one_fetch_split_by_month_for_any_slice_size(rows_per_slice: int) -> None:
    source = SamplePriceSource(seed=3)
    whole = split_by_month(source.fetch(TICKERS, START, END).frame)
    marks: list[tuple[int, int]] = []
    bars = fetch_months(
        source,
        TICKERS,
        START,
        END,
        MONTHS,
        rows_per_slice=rows_per_slice,
        on_slice=lambda i, n: marks.append((i, n)),
    )
    assert list(bars.months) == MONTHS == list(whole)
    for key in MONTHS:
        pd.testing.assert_frame_equal(bars.months[key], whole[key])
        assert (bars.months[key]["date"].map(month_key) == key).all()
    assert bars.rows == sum(len(f) for f in whole.values())
    assert sorted(bars.result.ok) == sorted(TICKERS)
    assert marks[-1][0] == marks[-1][1] - 1 and len(marks) == marks[0][1]


def test_a_month_without_rows_is_an_empty_frame_of_the_contract_layout() -> None:
    bars = fetch_months(SamplePriceSource(), ["AAPL"], START, END, [*MONTHS, "2024-03"])
    assert len(bars.months["2024-03"]) == 0
    assert list(bars.months["2024-03"].columns) == list(bars.months["2024-01"].columns)
