"""AlphaVantageSource against a local HTTP server replaying recorded Alpha Vantage responses."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.prices import (
    AlphaVantageSource,
    CsvPriceSource,
    PriceSourceError,
    trading_days,
)
from memwise_assets_tests.builders.clock import FakeClock

FIX = Path(__file__).parents[2] / "fixtures" / "prices"


class Replay:
    """Per (function, symbol): a queue of fixture names to serve, the last one repeating."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[str]] = {}
        self.requests: list[dict[str, str]] = []

    def body(self, params: dict[str, str]) -> bytes:
        self.requests.append(params)
        queue = self.routes.get((params.get("function", ""), params.get("symbol", "")))
        if not queue:
            name = "av_error_unknown.json"
        else:
            name = queue.pop(0) if len(queue) > 1 else queue[0]
        return (FIX / name).read_bytes()


@pytest.fixture
def server() -> Iterator[tuple[str, Replay]]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            query = urllib.parse.urlparse(self.path).query
            params = dict(urllib.parse.parse_qsl(query))
            if params.get("symbol") == "HTTP429":
                self.send_error(429, "Too Many Requests")
                return
            body = replay.body(params)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/query", replay
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def make(url: str, clock: FakeClock, **kw: object) -> AlphaVantageSource:
    return AlphaVantageSource("SECRETKEY", base_url=url, clock=clock, sleep=clock.sleep, **kw)


def test_adjusted_series_parsed_and_paced(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_adjusted_AAPL.json"]
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "MSFT")] = ["av_adjusted_MSFT.json"]
    clock = FakeClock()
    res = make(url, clock).fetch(["AAPL", "MSFT", "NOPE"], "2017-10-02", "2017-11-10")
    assert res.failed == ["NOPE"] and res.report["NOPE"].reason.startswith("unknown: Invalid API")
    aapl = res.frame[res.frame["symbol"] == "AAPL"]
    assert list(aapl["date"]) == list(trading_days("2017-10-02", "2017-11-10"))
    first = aapl.iloc[0]
    assert (first["close"], first["adj_close"], first["volume"]) == (153.81, 153.259, 18698800)
    # 5 calls per minute, burst 1: the 2nd and 3rd calls wait 12 s each.
    assert clock.sleeps == pytest.approx([12.0, 12.0])
    assert replay.requests[0]["apikey"] == "SECRETKEY"
    assert replay.requests[0]["outputsize"] == "full"
    assert "SECRETKEY" not in repr(make(url, clock))


def test_rate_limit_note_is_retried_after_waiting(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = [
        "av_note_rate_limit.json", "av_adjusted_AAPL.json",
    ]  # fmt: skip
    clock = FakeClock()
    res = make(url, clock, rate_limit_wait_s=60.0).fetch(["AAPL"], "2017-10-02", "2017-10-10")
    assert res.report["AAPL"].rows == 6 and len(replay.requests) == 2
    assert 60.0 in clock.sleeps


def test_daily_quota_stops_the_remaining_tickers(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_adjusted_AAPL.json"]
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "MSFT")] = ["av_information_quota.json"]
    res = make(url, FakeClock()).fetch(["AAPL", "MSFT", "IBM"], "2017-10-02", "2017-10-10")
    assert res.failed == ["MSFT", "IBM"] and len(replay.requests) == 2
    assert res.report["IBM"].reason.startswith("quota: skipped")


def test_premium_adjusted_endpoint_falls_back_to_daily(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_information_premium.json"]
    replay.routes[("TIME_SERIES_DAILY", "AAPL")] = ["av_daily_AAPL.json"]
    res = make(url, FakeClock()).fetch(["AAPL"], "2017-10-02", "2017-10-10")
    frame = res.frame
    assert (frame["adj_close"] == frame["close"]).all() and len(frame) == 6
    assert "TIME_SERIES_DAILY: adj_close = close" in res.report["AAPL"].reason


def test_http_429_and_all_failed(server: tuple[str, Replay]) -> None:
    url, _ = server
    clock = FakeClock()
    with pytest.raises(PriceSourceError, match="rate_limit"):
        make(url, clock, retries=1).fetch(["HTTP429"], "2017-10-02", "2017-10-10")
    assert 60.0 in clock.sleeps


def test_fill_gaps_adds_only_missing_rows(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_adjusted_AAPL.json"]
    yahoo = CsvPriceSource(FIX / "csv").fetch(["AAPL", "MSFT"], "2017-10-02", "2017-10-20").frame
    holes = yahoo["date"].isin(pd.to_datetime(["2017-10-05", "2017-10-12"]))
    gappy = yahoo[~(holes & (yahoo["symbol"] == "AAPL"))].reset_index(drop=True)
    res = make(url, FakeClock()).fill_gaps(gappy, ["AAPL", "MSFT"], "2017-10-02", "2017-10-20")
    assert [r["symbol"] for r in replay.requests] == ["AAPL"]  # MSFT had no gap
    assert res.report["AAPL"].issues == {"filled": 2, "still_missing": 0}
    assert res.report["MSFT"].reason == "no gaps"
    assert len(res.frame) == len(yahoo) and res.frame.duplicated(["symbol", "date"]).sum() == 0
    filled = res.frame[(res.frame["symbol"] == "AAPL") & (res.frame["date"] == "2017-10-05")]
    assert filled["close"].item() == 155.39
    kept = res.frame[(res.frame["symbol"] == "AAPL") & (res.frame["date"] == "2017-10-06")]
    assert kept["close"].item() == 155.300003  # Yahoo's row, not Alpha Vantage's 4-decimal copy


def test_api_key_is_required() -> None:
    with pytest.raises(ValueError, match="needs an API key"):
        AlphaVantageSource("")


def test_premium_fallback_does_not_stick_to_the_source(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_information_premium.json"]
    replay.routes[("TIME_SERIES_DAILY", "AAPL")] = ["av_daily_AAPL.json"]
    replay.routes[("TIME_SERIES_DAILY", "MSFT")] = ["av_daily_AAPL.json"]
    src = make(url, FakeClock())
    res = src.fetch(["AAPL", "MSFT"], "2017-10-02", "2017-10-10")
    # Within one fetch the fallback found for AAPL serves MSFT without a wasted call...
    asked = [(r["function"], r["symbol"]) for r in replay.requests]
    assert asked == [
        ("TIME_SERIES_DAILY_ADJUSTED", "AAPL"), ("TIME_SERIES_DAILY", "AAPL"),
        ("TIME_SERIES_DAILY", "MSFT"),
    ]  # fmt: skip
    assert "adj_close = close" in res.report["MSFT"].reason
    # ...but the source still asks for the adjusted series next time.
    assert (src.series.function, src.series.outputsize) == ("TIME_SERIES_DAILY_ADJUSTED", "full")
    src.fetch(["AAPL"], "2017-10-02", "2017-10-10")
    assert replay.requests[3]["function"] == "TIME_SERIES_DAILY_ADJUSTED"


def test_rate_limit_waits_a_constant_minute_on_a_fake_clock(server: tuple[str, Replay]) -> None:
    url, replay = server
    replay.routes[("TIME_SERIES_DAILY_ADJUSTED", "AAPL")] = ["av_note_rate_limit.json"]
    clock = FakeClock()
    with pytest.raises(PriceSourceError, match="rate_limit"):
        make(url, clock, retries=2, rate_limit_wait_s=60.0).fetch(
            ["AAPL"], "2017-10-02", "2017-10-10"
        )
    assert len(replay.requests) == 3
    assert clock.sleeps == [60.0, 60.0]  # the pacing bucket never waits on a single ticker
