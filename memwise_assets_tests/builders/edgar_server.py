"""A recorded EDGAR on 127.0.0.1: ticker map, submissions, primary documents, request log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "edgar"
TESLA_CIK = 1318605


def primary_document(cik: int, form: str, period: str | None) -> bytes:
    """A small stand-in primary document carrying the dei facts EDGAR's would."""
    return (
        "<html><body>"
        f'<ix:nonNumeric name="dei:EntityCentralIndexKey">{cik:010d}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:DocumentType">{form}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:DocumentPeriodEndDate">{period}</ix:nonNumeric>'
        f"<p>FORM {form}</p><p>Item 1. Business</p><p>We make cars.</p></body></html>"
    ).encode()


@dataclass
class RecordedEdgar:
    """Routes (path -> status, body) and the log of (monotonic time, path, User-Agent)."""

    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    # Path -> statuses to answer first (e.g. [429]) before the route's own answer.
    faults: dict[str, list[int]] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)
    # Path -> a function answering the request itself (hostile servers: trickles, redirects).
    handlers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, agent: str) -> tuple[int, bytes]:
        with self.lock:
            self.log.append((time.monotonic(), path, agent))
            queued = self.faults.get(path)
            if queued:
                return queued.pop(0), b"slow down"
        return self.routes.get(path, (404, b"not found"))


def recorded_edgar() -> RecordedEdgar:
    """The ticker map, Tesla's submissions and a stand-in for each of its primary documents."""
    edgar = RecordedEdgar()
    edgar.routes["/files/company_tickers.json"] = (
        200,
        (FIXTURES / "company_tickers.json").read_bytes(),
    )
    raw = (FIXTURES / f"submissions_CIK{TESLA_CIK:010d}.json").read_bytes()
    edgar.routes[f"/submissions/CIK{TESLA_CIK:010d}.json"] = (200, raw)
    recent = json.loads(raw)["filings"]["recent"]
    for i, accession in enumerate(recent["accessionNumber"]):
        path = (
            f"/Archives/edgar/data/{TESLA_CIK}/{accession.replace('-', '')}/"
            f"{recent['primaryDocument'][i]}"
        )
        body = primary_document(TESLA_CIK, recent["form"][i], recent["reportDate"][i])
        edgar.routes[path] = (200, body)
    return edgar


@contextmanager
def serving(edgar: RecordedEdgar) -> Iterator[RecordedEdgar]:
    """Serve `edgar` on an ephemeral 127.0.0.1 port for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            custom = edgar.handlers.get(self.path) or edgar.handlers.get(self.path.split("?")[0])
            if custom is not None:
                edgar.answer(self.path, self.headers.get("User-Agent", ""))
                try:
                    custom(self)
                except OSError:  # the client hung up on a hostile answer: its right
                    pass
                return
            status, body = edgar.answer(self.path, self.headers.get("User-Agent", ""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    edgar.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield edgar
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def max_in_any_second(stamps: list[float]) -> int:
    """Most requests the server saw within any window of one second."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best
