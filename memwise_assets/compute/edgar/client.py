"""HTTP to SEC EDGAR under its fair-access rules: a declared User-Agent, paced, backing off.

Every `EdgarClient` of the process shares one limiter (`shared_limiter()`), so however
many clients or threads there are, EDGAR sees at most 10 requests per second from us.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from memwise_assets.compute.prices.pacing import RateLimiter, backoff_delays

# SEC's published ceiling. The limiter runs below it without bursts, so that
# network and scheduling jitter can never make the server count more than 10 in a second.
SEC_MAX_REQUESTS_PER_S = 10
PACED_REQUESTS_PER_S = 8.0
RETRY_STATUSES = (429, 503)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_lock = threading.Lock()
_limiter: RateLimiter | None = None


class EdgarError(RuntimeError):
    """A request EDGAR refused or that failed after its retries."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.status = url, reason, status


def shared_limiter() -> RateLimiter:
    """The process-wide EDGAR limiter (8 request starts per second, no bursts)."""
    global _limiter
    with _lock:
        if _limiter is None:
            _limiter = RateLimiter(PACED_REQUESTS_PER_S, burst=1)
        return _limiter


def check_user_agent(user_agent: str | None) -> str:
    """The User-Agent if it declares a contact e-mail; else a ValueError saying what SEC wants."""
    text = (user_agent or "").strip()
    if not _EMAIL.search(text):
        raise ValueError(
            "EDGAR requires a User-Agent that declares who you are with a contact e-mail, "
            f"e.g. 'Example Research research@example.com'; got {user_agent!r}"
        )
    return text


Opener = Callable[[urllib.request.Request, float], Any]


def _urlopen(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) only)


class EdgarClient:
    """GETs against EDGAR: paced by the shared limiter, 429/503 retried with backoff."""

    def __init__(
        self,
        user_agent: str,
        *,
        retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
        opener: Opener = _urlopen,
    ):
        self.user_agent = check_user_agent(user_agent)
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.limiter = limiter or shared_limiter()
        self._sleep = sleep or (lambda s: threading.Event().wait(s))
        self._open = opener
        self.requests = 0

    def get(self, url: str) -> bytes:
        """The body of `url`; EdgarError on a refusal or after the retries run out."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"EDGAR URLs must be http(s); got {url!r}")
        delays = backoff_delays(self.retries, self.backoff_s)
        for attempt in range(len(delays) + 1):
            self.limiter.acquire(1)
            self.requests += 1
            request = urllib.request.Request(
                url, headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
            )
            try:
                with self._open(request, self.timeout_s) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUSES or attempt == len(delays):
                    raise EdgarError(url, f"HTTP {exc.code} {exc.reason}", exc.code) from exc
                self._sleep(_retry_after(exc, delays[attempt]))
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise EdgarError(url, f"request failed: {reason}") from exc
        raise AssertionError("unreachable")

    def get_json(self, url: str) -> Any:
        """`get` decoded as JSON; a body that is not JSON is an EdgarError."""
        body = self.get(url)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EdgarError(url, f"expected JSON; got {body[:80]!r}") from exc


def _retry_after(exc: urllib.error.HTTPError, default_s: float) -> float:
    # Honour the server's Retry-After (seconds) within reason; else the backoff step.
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return min(60.0, max(default_s, float(value))) if value else default_s
    except ValueError:
        return default_s
