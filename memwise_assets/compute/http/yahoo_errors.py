"""What yfinance reports and how memwise reads it: rate limits, network faults, logged errors.

yfinance 1.x raises some failures (YFRateLimitError from quoteSummary) and only logs others
(per-ticker download errors, a 404 for an unknown symbol): both price and company sources
classify them here and capture the logged ones around each call.
"""

from __future__ import annotations

import ast
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RATE_LIMIT_MARKERS = ("yfratelimiterror", "too many requests", "rate limit", " 429", "(429")
NETWORK_MARKERS = (
    "failed to perform",
    "could not resolve",
    "connection",
    "timed out",
    "timeout",
    "name resolution",
    "network is unreachable",
    "max retries exceeded",
)


def is_rate_limit(error: BaseException | str) -> bool:
    """True for YFRateLimitError, HTTP 429 errors and messages that say 'Too Many Requests'."""
    if isinstance(error, BaseException):
        if type(error).__name__ == "YFRateLimitError":
            return True
        for holder in (error, getattr(error, "response", None)):
            for attr in ("status_code", "status", "code"):
                if getattr(holder, attr, None) == 429:
                    return True
        error = f"{type(error).__name__}: {error}"
    text = error.lower()
    return any(m in text for m in RATE_LIMIT_MARKERS)


class TickersRateLimited(Exception):
    """yfinance logged these tickers (ticker -> message) as rate limited: retry just them."""

    def __init__(self, reasons: dict[str, str]):
        super().__init__(f"rate limited {len(reasons)} ticker(s): {', '.join(reasons)}")
        self.reasons = reasons


def is_retryable(error: BaseException) -> bool:
    """Worth another try later: a rate limit (raised or logged) or a network failure."""
    return isinstance(error, TickersRateLimited) or is_rate_limit(error) or is_network_error(error)


def is_network_error(error: BaseException | str) -> bool:
    """True for connection / DNS / timeout failures (nothing reached Yahoo)."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    text = (
        f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    ).lower()
    return any(m in text for m in NETWORK_MARKERS)


class _ErrorCapture(logging.Handler):
    """Collects the per-ticker errors yfinance logs (it does not raise them) during a call."""

    _LIST = re.compile(r"^\s*(\[[^\]]*\]):\s*(.+)$", re.S)
    _ONE = re.compile(r"^\s*\$?([A-Z0-9.\-^=]+):\s*(.+)$", re.S)

    def __init__(self, thread: int | None = None) -> None:
        super().__init__(level=logging.ERROR)
        self.thread = thread
        self.errors: dict[str, str] = {}
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.thread is not None and record.thread != self.thread:
            return  # another worker's ticker
        msg = record.getMessage()
        self.messages.append(msg)
        match = self._LIST.match(msg)
        if match:
            try:
                names = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                names = []
            for name in names:
                self.errors[str(name).upper()] = match.group(2).strip()
            return
        match = self._ONE.match(msg)
        if match:
            self.errors.setdefault(match.group(1).upper(), match.group(2).strip())


@contextmanager
def capture_yf_errors() -> Iterator[dict[str, str]]:
    """Within the block, map ticker -> error message logged by the `yfinance` logger."""
    with capture_yf_log() as handler:
        yield handler.errors


@contextmanager
def capture_yf_log(*, this_thread: bool = False) -> Iterator[_ErrorCapture]:
    """Within the block, collect what the `yfinance` logger reports at ERROR: `.errors` per
    ticker where the message names one, `.messages` all of them in order.

    `this_thread=True` keeps only records of the calling thread (one ticker per worker).
    """
    handler = _ErrorCapture(threading.get_ident() if this_thread else None)
    logger = logging.getLogger("yfinance")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
