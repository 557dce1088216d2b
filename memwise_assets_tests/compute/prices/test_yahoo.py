"""YFinancePriceSource on recorded yfinance-1.x frames: failures, rate limits, retries, pacing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from yfinance.exceptions import YFRateLimitError

from memwise_assets.compute.http import capture_yf_errors, is_rate_limit
from memwise_assets.compute.prices import (
    DEFAULT_TICKERS,
    PriceSourceError,
    RateLimiter,
    SamplePriceSource,
    YFinancePriceSource,
    reshape_yf_frame,
    trading_days,
)
from memwise_assets_tests.builders.clock import FakeClock

FIX = Path(__file__).parents[2] / "fixtures" / "prices"
FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def recorded(name: str) -> pd.DataFrame:
    return pd.read_parquet(FIX / f"{name}.parquet")


def yf_frame(batch: list[str], source: pd.DataFrame) -> pd.DataFrame:
    """What yfinance 1.x returns for `batch` given the bars it knows (`source`, wide yf layout).

    Known tickers keep their columns, unknown ones get all-NaN columns, and a batch with no
    known ticker is the empty (0-row) frame yfinance builds when every download failed.
    """
    known = set(source.columns.get_level_values("Ticker"))
    names = sorted({t.upper() for t in batch})
    fields = [f for f in FIELDS if f in set(source.columns.get_level_values("Price"))]
    columns = pd.MultiIndex.from_product([fields, names], names=["Price", "Ticker"])
    if not known & set(names):
        return pd.DataFrame(index=pd.DatetimeIndex([]), columns=columns, dtype="float64")
    out = pd.DataFrame(np.nan, index=source.index, columns=columns)
    for field, ticker in columns:
        if ticker in known:
            out[(field, ticker)] = source[(field, ticker)]
    return out


def bars_to_yf(bars: pd.DataFrame) -> pd.DataFrame:
    """Long contract bars -> the wide (Price, Ticker) frame yfinance returns."""
    renamed = bars.rename(
        columns={"open": "Open", "high": "High", "low": "Low", "close": "Close",
                 "adj_close": "Adj Close", "volume": "Volume"}
    ).astype({"symbol": str})  # fmt: skip
    wide = renamed.pivot(index="date", columns="symbol", values=FIELDS)
    wide.columns.names = ["Price", "Ticker"]
    wide.index.name = "Date"
    return wide.sort_index(axis=1, level=0)


class FakeDownload:
    """Stands in for `yfinance.download`: replays a frame, raising or logging errors first."""

    def __init__(
        self,
        source: pd.DataFrame,
        raises: list[BaseException] | None = None,
        logged: list[dict[str, str]] | None = None,
        clock: FakeClock | None = None,
    ):
        self.source = source
        self.raises = list(raises or [])
        self.logged = list(logged or [])
        self.clock = clock
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.times: list[float] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs))
        if self.clock is not None:
            self.times.append(self.clock.now)
        if self.raises:
            raise self.raises.pop(0)
        frame = yf_frame(tickers, self.source)
        errors = self.logged.pop(0) if self.logged else {}
        for ticker, message in errors.items():
            # yfinance logs per-ticker failures like this instead of raising them.
            logging.getLogger("yfinance").error("%s: %s", [ticker], message)
            frame = frame.drop(columns=ticker, level="Ticker").join(
                pd.DataFrame(np.nan, index=frame.index, columns=pd.MultiIndex.from_product(
                    [FIELDS, [ticker]], names=["Price", "Ticker"]))
            ).sort_index(axis=1, level=0)  # fmt: skip
        return frame


def source_with(
    fake: FakeDownload, clock: FakeClock | None = None, **kw: Any
) -> YFinancePriceSource:
    clock = clock or FakeClock()
    return YFinancePriceSource(download=fake, clock=clock, sleep=clock.sleep, **kw)


def test_recorded_batch_with_a_failed_ticker() -> None:
    fake = FakeDownload(recorded("yf_partial"))
    tickers = ["AAPL", "MSFT", "COH", "LVLT", "ZZZZ"]
    res = source_with(fake).fetch(tickers, "2017-10-16", "2017-11-10")
    assert res.failed == ["ZZZZ"] and "all-NaN columns" in res.report["ZZZZ"].reason
    days = trading_days("2017-10-16", "2017-11-10")
    assert res.report["AAPL"].rows == len(days) == 19
    assert res.report["COH"].last_date == pd.Timestamp("2017-10-30")
    assert res.report["LVLT"].last_date == pd.Timestamp("2017-11-01")
    assert res.report["LVLT"].issues == {"zero_volume": 1}
    aapl = res.frame[res.frame["symbol"] == "AAPL"].iloc[0]
    assert (aapl["date"], aapl["close"], aapl["volume"]) == (
        pd.Timestamp("2017-10-16"), 159.880005, 24121500
    )  # fmt: skip
    assert res.frame["volume"].dtype == "int64" and res.frame["date"].dtype == "datetime64[ns]"
    batch, kwargs = fake.calls[0]
    assert batch == tickers
    assert kwargs | {"timeout": None} == {
        "start": "2017-10-16", "end": "2017-11-10", "interval": "1d", "group_by": "column",
        "auto_adjust": False, "actions": False, "threads": True, "progress": False,
        "ignore_tz": True, "multi_level_index": True, "timeout": None,
    }  # fmt: skip


def test_logged_yfinance_reason_is_reported() -> None:
    message = "YFPricesMissingError('possibly delisted; no price data found')"
    fake = FakeDownload(recorded("yf_listing"), logged=[{"QQQQX": message}])
    res = source_with(fake).fetch(["AAPL", "KHC", "PYPL", "QQQQX"], "2015-06-22", "2015-07-17")
    assert res.failed == ["QQQQX"] and res.report["QQQQX"].reason == message
    assert res.report["KHC"].first_date == pd.Timestamp("2015-07-06")
    assert res.report["PYPL"].rows == 9
    assert res.report["AAPL"].rows == len(trading_days("2015-06-22", "2015-07-17")) == 18


def test_all_failed_batch_raises_naming_the_likely_cause() -> None:
    empty = recorded("yf_all_failed")
    assert empty.shape == (0, 12) and list(empty.columns.names) == ["Price", "Ticker"]
    long, missing = reshape_yf_frame(empty, ["ZZZZ", "QQQQX"])
    assert long.empty and missing == ["ZZZZ", "QQQQX"]
    fake = FakeDownload(recorded("yf_partial"))
    with pytest.raises(PriceSourceError, match="no network, or all tickers unknown"):
        source_with(fake).fetch(["ZZZZ", "QQQQX"], "2017-11-01", "2017-11-15")


def test_rate_limited_twice_then_succeeds_with_backoff() -> None:
    clock = FakeClock()
    fake = FakeDownload(recorded("yf_partial"), raises=[YFRateLimitError(), YFRateLimitError()])
    src = source_with(fake, clock, backoff_s=2.0, retries=3)
    res = src.fetch(["AAPL", "MSFT"], "2017-10-16", "2017-11-10")
    assert res.failed == [] and len(res.frame) == 38
    assert len(fake.calls) == 3
    assert 2.0 in clock.sleeps and 4.0 in clock.sleeps and 8.0 not in clock.sleeps


def test_rate_limit_that_never_ends_fails_with_that_cause() -> None:
    fake = FakeDownload(recorded("yf_partial"), raises=[YFRateLimitError()] * 10)
    with pytest.raises(PriceSourceError, match=r"rate limited by Yahoo \(HTTP 429"):
        source_with(fake, retries=2).fetch(["AAPL"], "2017-10-16", "2017-11-10")
    assert len(fake.calls) == 3


def test_logged_rate_limit_retries_only_the_limited_tickers() -> None:
    limited = {"MSFT": "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"}
    fake = FakeDownload(recorded("yf_partial"), logged=[limited])
    res = source_with(fake).fetch(["AAPL", "MSFT"], "2017-10-16", "2017-11-10")
    assert [c[0] for c in fake.calls] == [["AAPL", "MSFT"], ["MSFT"]]
    assert res.report["MSFT"].rows == 19 and res.failed == []


def test_no_network_error_names_the_cause() -> None:
    error = ConnectionError("Failed to perform, curl: (6) Could not resolve host: query2")
    fake = FakeDownload(recorded("yf_partial"), raises=[error] * 5)
    with pytest.raises(PriceSourceError, match="no network"):
        source_with(fake, retries=1).fetch(["AAPL", "MSFT"], "2017-10-16", "2017-11-10")


def test_66_tickers_in_paced_batches_round_trip_the_yf_layout() -> None:
    tickers = list(DEFAULT_TICKERS)
    truth = SamplePriceSource().fetch(tickers, "2024-03-01", "2024-04-01").frame
    clock = FakeClock()
    fake = FakeDownload(bars_to_yf(truth), clock=clock)
    res = source_with(fake, clock, batch_size=10, max_requests_per_s=10).fetch(
        tickers, "2024-03-01", "2024-04-01"
    )
    assert [len(c[0]) for c in fake.calls] == [10] * 6 + [6]
    # 10 requests of burst, then 10 per second: a batch of 10 every second, the last 6 at 5.6 s.
    assert fake.times == pytest.approx([0, 1, 2, 3, 4, 5, 5.6])
    pd.testing.assert_frame_equal(res.frame, truth)


def test_single_ticker_with_and_without_multiindex() -> None:
    single = recorded("yf_single")
    assert single.columns.nlevels == 2 and list(single.columns.get_level_values(1).unique()) == [
        "AAPL"
    ]
    a, missing = reshape_yf_frame(single, ["AAPL"])
    b, _ = reshape_yf_frame(single.droplevel("Ticker", axis=1), ["AAPL"])
    assert missing == [] and len(a) == 10
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="MultiIndex for several tickers"):
        reshape_yf_frame(single.droplevel("Ticker", axis=1), ["AAPL", "MSFT"])


def test_frame_without_adj_close_falls_back_to_close() -> None:
    frame = recorded("yf_single").drop(columns="Adj Close", level="Price")
    fake = FakeDownload(frame)
    res = source_with(fake).fetch(["AAPL"], "2017-11-01", "2017-11-15")
    assert (res.frame["adj_close"] == res.frame["close"]).all()
    assert res.report["AAPL"].issues == {"adj_close_from_close": 10}


def test_rate_limit_detection_and_log_capture() -> None:
    class HTTPError(Exception):
        def __init__(self) -> None:
            super().__init__("HTTP Error")
            self.response = type("R", (), {"status_code": 429})()

    assert is_rate_limit(YFRateLimitError()) and is_rate_limit(HTTPError())
    assert is_rate_limit("429 Client Error: Too Many Requests") and not is_rate_limit("404")
    with capture_yf_errors() as errors:
        logging.getLogger("yfinance").error("['A', 'B.C']: YFTzMissingError('no timezone')")
        logging.getLogger("yfinance").error("$ZZ: possibly delisted; no price data found")
    tz = "YFTzMissingError('no timezone')"
    assert errors == {"A": tz, "B.C": tz, "ZZ": "possibly delisted; no price data found"}


def test_rate_limiter_on_a_fake_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(25)]
    assert sum(w > 0 for w in waits) == 15 and clock.now == pytest.approx(1.5)
    clock.now += 100  # idle refills up to the burst only
    assert limiter.acquire(10) == 0 and limiter.acquire(1) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="rate must be > 0"):
        RateLimiter(0)


def test_call_arguments_bind_to_the_installed_yfinance_download() -> None:
    import inspect

    import yfinance

    fake = FakeDownload(recorded("yf_single"))
    source_with(fake).fetch(["AAPL"], "2017-11-01", "2017-11-15")
    batch, kwargs = fake.calls[0]
    bound = inspect.signature(yfinance.download).bind(batch, **kwargs)
    assert bound.arguments["group_by"] == "column" and bound.arguments["auto_adjust"] is False
