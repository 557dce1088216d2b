"""Pacing for online sources: a token-bucket rate limiter and the one retry policy.

Yahoo limits by client address, so every Yahoo caller of a process (price downloads and
company data) takes its tokens from one bucket, `yahoo_limiter()`: the only process-wide
state in `compute`, on purpose.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class RateLimiter:
    """At most `rate` requests per second on average, bursts of up to `burst`.

    `acquire(n)` blocks (through the injected `sleep`) until n tokens are there; asking for
    more than `burst` at once is allowed and simply waits for the refill, so a batch of 66
    requests at 10/s waits ~5.6 s after the first 10.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests per second; got {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(rate, 1.0))
        if self.burst <= 0:
            raise ValueError(f"burst must be > 0; got {burst!r}")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self, n: float = 1.0) -> float:
        """Take n tokens, sleeping as long as needed; return the seconds waited."""
        with self._lock:
            self._refill()
            # Going into debt lets a request larger than the burst through after one wait,
            # and later callers wait until the debt is paid off.
            self._tokens -= n
            wait = max(0.0, -self._tokens / self.rate)
            if wait > 0:
                self._sleep(wait)
                self.waited_s += wait
        return wait

    def slow_to(self, rate: float) -> None:
        """Lower the rate to `rate` if stricter: a shared bucket obeys its strictest user."""
        with self._lock:
            self.rate = min(self.rate, float(rate))


_YAHOO_LOCK = threading.Lock()
_YAHOO: RateLimiter | None = None


def yahoo_limiter(rate: float = 10.0) -> RateLimiter:
    """The process's one Yahoo bucket (10 requests/s, bursts of 10); a lower `rate` slows it."""
    global _YAHOO
    with _YAHOO_LOCK:
        if _YAHOO is None:
            _YAHOO = RateLimiter(rate, burst=max(rate, 1.0))
        else:
            _YAHOO.slow_to(rate)
        return _YAHOO


def yahoo_pacer(
    rate: float,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> RateLimiter:
    """The shared Yahoo bucket, or one of its own on an injected (test) clock."""
    if clock is None and sleep is None:
        return yahoo_limiter(rate)
    return RateLimiter(
        rate, burst=max(rate, 1.0), clock=clock or time.monotonic, sleep=sleep or time.sleep
    )


def backoff_delays(retries: int, base_s: float, cap_s: float = 60.0) -> list[float]:
    """Exponential backoff delays base, 2*base, 4*base, ... capped at `cap_s`."""
    return [min(cap_s, base_s * 2**i) for i in range(retries)]


class RetriesExhausted(Exception):
    """The last retryable error, after `attempts` attempts (`__cause__` is that error)."""

    def __init__(self, error: BaseException, attempts: int):
        super().__init__(f"after {attempts} attempt(s): {type(error).__name__}: {error}")
        self.error = error
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """Retry what `retry_on` accepts, sleeping `base_s * factor**i` (capped) between tries.

    The one policy of the online sources: yfinance backs off exponentially (factor 2),
    Alpha Vantage waits a constant minute for its per-minute quota (factor 1). The policy
    holds no state, so nothing a call does sticks to the source that owns it.
    """

    retries: int = 3
    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 60.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_s < 0 or self.factor < 1:
            raise ValueError(
                "RetryPolicy needs retries >= 0, base_s >= 0 and factor >= 1; got "
                f"retries={self.retries}, base_s={self.base_s}, factor={self.factor}"
            )

    def delays(self) -> list[float]:
        """The sleeps between attempts, in order."""
        return [min(self.cap_s, self.base_s * self.factor**i) for i in range(self.retries)]

    def call(
        self,
        fn: Callable[[int], T],
        *,
        retry_on: Callable[[BaseException], bool],
        sleep: Callable[[float], None] = time.sleep,
        what: str = "request",
    ) -> T:
        """`fn(attempt)` until it returns; `RetriesExhausted` once retryable errors run out.

        Errors `retry_on` rejects propagate at once, unchanged.
        """
        delays = self.delays()
        for attempt in range(self.retries + 1):
            try:
                return fn(attempt)
            except Exception as exc:
                if not retry_on(exc):
                    raise
                if attempt == self.retries:
                    raise RetriesExhausted(exc, attempt + 1) from exc
                log.warning("%s: %s; retry %d in %.1fs", what, exc, attempt + 1, delays[attempt])
                sleep(delays[attempt])
        raise AssertionError("unreachable")
