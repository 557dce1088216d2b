"""One bounded HTTP GET for every online source: nothing a server sends runs unbounded.

Redirects are followed only to allowed origins, a body larger than `cap` is refused while
it streams, and `deadline_s` caps the whole request (connect, headers, body) however
slowly the server trickles. Built on `http.client` on purpose: urllib3 and requests time
out per socket read only (a server sending one byte a second never trips them), so an
overall deadline needs a watchdog on the socket either way, and the size cap needs the
streaming loop that this module is.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
_CHUNK = 1 << 16


class HttpStatus(Exception):
    """A final non-200, non-redirect answer (the caller decides whether to retry)."""

    def __init__(self, status: int, reason: str, retry_after: str | None):
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason, self.retry_after = status, reason, retry_after


class HttpRefused(Exception):
    """A response refused by a bound: a redirect elsewhere, a body past its cap, a deadline."""


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; a ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"URLs must be http(s) with a host; got {url!r}")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), parts.port or default


def bounded_get(
    url: str,
    sink: Callable[[bytes], Any],
    *,
    headers: Mapping[str, str],
    cap: int,
    deadline_s: float,
    timeout_s: float = 30.0,
    allowed_origins: Iterable[str] = (),
) -> None:
    """GET `url`, feeding its body to `sink` in chunks, every bound applied.

    Raises HttpStatus, HttpRefused, or OSError / http.client.HTTPException for the network.
    """
    start = time.monotonic()
    allowed = {origin(url), *(origin(u) for u in allowed_origins)}
    for _ in range(MAX_REDIRECTS + 1):
        if time.monotonic() - start >= deadline_s:
            raise HttpRefused(f"no answer within the {deadline_s:g} s deadline")
        location = _once(url, sink, headers, cap, start, deadline_s, timeout_s)
        if location is None:
            return
        target = urljoin(url, location)
        try:
            where = origin(target)
        except ValueError:
            where = None
        if where not in allowed:
            raise HttpRefused(f"redirect to {target!r} refused (not a configured host)")
        url = target
    raise HttpRefused(f"more than {MAX_REDIRECTS} redirects")


def _once(
    url: str,
    sink: Callable[[bytes], Any],
    headers: Mapping[str, str],
    cap: int,
    start: float,
    deadline_s: float,
    timeout_s: float,
) -> str | None:
    """One GET: the redirect location, or None once the body went to `sink`."""
    scheme, host, port = origin(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    left = max(0.001, deadline_s - (time.monotonic() - start))
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = kind(host, port, timeout=min(timeout_s, left))
    expired = threading.Event()

    def cut() -> None:
        # A blocked recv() only returns when its socket is shut: the deadline's teeth.
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(left, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        if response.status in REDIRECT_STATUSES:
            return response.getheader("Location") or ""
        if response.status != 200:
            raise HttpStatus(response.status, response.reason, response.getheader("Retry-After"))
        declared = response.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > cap:
            raise HttpRefused(f"body of {int(declared):,} bytes refused (cap {cap:,})")
        total = 0
        while chunk := response.read1(_CHUNK):
            total += len(chunk)
            if total > cap:
                raise HttpRefused(f"body passed the cap of {cap:,} bytes; refused")
            if time.monotonic() - start > deadline_s:
                raise TimeoutError
            sink(chunk)
        if expired.is_set():
            raise TimeoutError
        return None
    except (OSError, http.client.HTTPException):
        if expired.is_set() or time.monotonic() - start > deadline_s:
            raise HttpRefused(f"not complete within the {deadline_s:g} s deadline") from None
        raise
    finally:
        watchdog.cancel()
        conn.close()
