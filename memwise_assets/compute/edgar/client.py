"""HTTP to SEC EDGAR under its fair-access rules, and bounded against a hostile server.

Every `EdgarClient` of the process shares one limiter (`shared_limiter()`), so however
many clients or threads there are, EDGAR sees at most 10 requests per second from us.

Each request is bounded by `compute.http.request.bounded_get`: redirects only to the configured
hosts (the origin asked, plus `allowed_origins`), a size cap, and an overall deadline.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from memwise_assets.compute.http import (
    HttpRefused,
    HttpStatus,
    RateLimiter,
    backoff_delays,
    bounded_get,
    origin,
)

# SEC's published ceiling. The limiter runs below it without bursts, so that
# network and scheduling jitter can never make the server count more than 10 in a second.
SEC_MAX_REQUESTS_PER_S = 10
PACED_REQUESTS_PER_S = 8.0
RETRY_STATUSES = (429, 503)
# The largest 10-K primary documents are tens of MB; JSON listings a few MB.
MAX_DOCUMENT_BYTES = 256 << 20
MAX_JSON_BYTES = 64 << 20
DEADLINE_S = 300.0
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


class EdgarClient:
    """GETs against EDGAR: paced, 429/503 retried with backoff, redirects, size and time bounded."""

    def __init__(
        self,
        user_agent: str,
        *,
        retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        deadline_s: float = DEADLINE_S,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        allowed_origins: Iterable[str] = (),
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.user_agent = check_user_agent(user_agent)
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        if not (deadline_s > 0 and max_bytes > 0):
            raise ValueError(f"deadline_s and max_bytes must be > 0; got {deadline_s}, {max_bytes}")
        self.deadline_s, self.max_bytes = float(deadline_s), int(max_bytes)
        self.allowed = list(allowed_origins)
        for allowed in self.allowed:
            origin(allowed)
        self.limiter = limiter or shared_limiter()
        self._sleep = sleep or (lambda s: threading.Event().wait(s))
        self.requests = 0

    def get(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """The body of `url` in memory (at most 64 MB unless `max_bytes` says otherwise);
        EdgarError on a refusal or after the retries run out."""
        chunks: list[bytes] = []
        self.get_into(url, chunks.append, max_bytes=max_bytes or MAX_JSON_BYTES)
        return b"".join(chunks)

    def get_to_file(self, url: str, handle: BinaryIO) -> int:
        """Stream the body of `url` into `handle` (never whole in memory); bytes written."""
        written = 0

        def sink(chunk: bytes) -> None:
            nonlocal written
            handle.write(chunk)
            written += len(chunk)

        def restart() -> None:
            nonlocal written
            handle.seek(0)
            handle.truncate()
            written = 0

        self.get_into(url, sink, restart=restart)
        return written

    def get_into(
        self,
        url: str,
        sink: Callable[[bytes], Any],
        *,
        max_bytes: int | None = None,
        restart: Callable[[], None] | None = None,
    ) -> None:
        """Feed the body of `url` to `sink` chunk by chunk, every bound applied."""
        origin(url)
        cap = self.max_bytes if max_bytes is None else min(max_bytes, self.max_bytes)
        delays = backoff_delays(self.retries, self.backoff_s)
        for attempt in range(len(delays) + 1):
            self.limiter.acquire(1)
            self.requests += 1
            if restart is not None and attempt:
                restart()
            try:
                bounded_get(
                    url,
                    sink,
                    headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"},
                    cap=cap,
                    deadline_s=self.deadline_s,
                    timeout_s=self.timeout_s,
                    allowed_origins=self.allowed,
                )
                return
            except HttpStatus as exc:
                if exc.status not in RETRY_STATUSES or attempt == len(delays):
                    raise EdgarError(url, f"HTTP {exc.status} {exc.reason}", exc.status) from None
                self._sleep(_retry_after(exc.retry_after, delays[attempt]))
            except HttpRefused as exc:
                raise EdgarError(url, str(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                raise EdgarError(url, f"request failed: {exc or type(exc).__name__}") from exc
        raise AssertionError("unreachable")

    def get_json(self, url: str) -> Any:
        """`get` decoded as JSON; a body that is not JSON is an EdgarError."""
        body = self.get(url, max_bytes=MAX_JSON_BYTES)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EdgarError(url, f"expected JSON; got {body[:80]!r}") from exc


def _retry_after(value: str | None, default_s: float) -> float:
    # Honour the server's Retry-After (seconds) within reason; else the backoff step.
    try:
        return min(60.0, max(default_s, float(value))) if value else default_s
    except ValueError:
        return default_s
