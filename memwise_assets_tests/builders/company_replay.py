"""Replays recorded yfinance 1.x company responses (fixtures/company) through the `ticker` seam."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from yfinance.exceptions import YFRateLimitError

from memwise_assets.compute.company import STATEMENT_ATTRS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "company"
# yfinance 1.x for a symbol Yahoo does not know, when nothing is logged for it.
UNKNOWN: dict[str, Any] = {"info": {"trailingPegRatio": None}}


class RecordedYahoo:
    """Stands in for `yfinance.Ticker`: each call gives a ticker object over the recordings.

    A recording may ask for an attribute to raise YFRateLimitError once (`raise_once`, as
    yfinance raises HTTP 429 on quoteSummary) or always (`rate_limited`), and for messages
    to be logged on the `yfinance` logger (`logged`, as yfinance logs a 404).
    """

    def __init__(self, folder: Path = FIXTURES, rate_limited: tuple[str, ...] = ()):
        self.records = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
        self.rate_limited = set(rate_limited)
        self.raised: set[tuple[str, str]] = set()
        self.asked: list[tuple[str, str]] = []

    def __call__(self, symbol: str) -> RecordedTicker:
        return RecordedTicker(self, symbol)

    def get(self, symbol: str, attr: str) -> Any:
        self.asked.append((symbol, attr))
        record = self.records.get(symbol, UNKNOWN)
        once = (symbol, attr) not in self.raised and attr in record.get("raise_once", [])
        if symbol in self.rate_limited or once:
            self.raised.add((symbol, attr))
            raise YFRateLimitError()
        if attr in record.get("logged", {}):
            logging.getLogger("yfinance").error(record["logged"][attr])
        if attr == "info":
            return dict(record["info"])
        split = record.get(attr) or {"index": [], "columns": [], "data": []}
        if not split["index"]:
            return pd.DataFrame()
        # As yfinance builds it: line items down, period ends across (newest first), floats.
        columns = pd.to_datetime(split["columns"])
        return pd.DataFrame(split["data"], index=split["index"], columns=columns, dtype="float64")


class RecordedTicker:
    """The attributes of `yfinance.Ticker` memwise reads, served from the recordings."""

    def __init__(self, replay: RecordedYahoo, symbol: str):
        self._replay = replay
        self.ticker = symbol

    @property
    def info(self) -> dict[str, Any]:
        return self._replay.get(self.ticker, "info")

    def __getattr__(self, name: str) -> Any:
        if name in STATEMENT_ATTRS.values():
            return self._replay.get(self.ticker, name)
        raise AttributeError(name)
