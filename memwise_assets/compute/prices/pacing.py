"""A token-bucket rate limiter with an injectable clock, and exponential backoff delays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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


def backoff_delays(retries: int, base_s: float, cap_s: float = 60.0) -> list[float]:
    """Exponential backoff delays base, 2*base, 4*base, ... capped at `cap_s`."""
    return [min(cap_s, base_s * 2**i) for i in range(retries)]


class FakeClock:
    """A manual clock whose `sleep` advances time: for deterministic pacing tests."""

    def __init__(self, start: float = 0.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of blocking."""
        self.sleeps.append(seconds)
        self.now += seconds
