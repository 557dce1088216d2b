"""A hostile EDGAR on 127.0.0.1: path-naming identifiers, redirects away, endless and
trickling bodies, malformed ticker maps and partial downloads never escape or wedge."""

from __future__ import annotations

import json
import os
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest

from memwise_assets.compute.edgar import (
    EdgarClient,
    EdgarError,
    download_new_filings,
    filings_of,
)
from memwise_assets.compute.edgar.files import confined, sweep_partials
from memwise_assets.compute.prices import AlphaVantageError, AlphaVantageSource
from memwise_assets_tests.builders.edgar_server import (
    TESLA_CIK,
    primary_document,
    recorded_edgar,
    serving,
)

AGENT = "memwise tests tests@example.com"
OTHER_CIK = 1000001
GOOD_ACC = "0000000001-24-000001"


def _submissions(cik: int, rows: list[tuple[str, str]]) -> bytes:
    """A submissions JSON listing 10-Ks of (accession, primaryDocument) rows."""
    n = len(rows)
    return json.dumps(
        {
            "cik": str(cik),
            "name": f"Company {cik}",
            "tickers": [],
            "filings": {
                "recent": {
                    "accessionNumber": [a for a, _ in rows],
                    "filingDate": ["2024-02-01"] * n,
                    "reportDate": ["2023-12-31"] * n,
                    "acceptanceDateTime": ["2024-02-01T16:30:00.000Z"] * n,
                    "form": ["10-K"] * n,
                    "primaryDocument": [d for _, d in rows],
                }
            },
        }
    ).encode()


def _files_outside(root: Path, landing: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and landing not in p.parents]


def _serve_good(edgar, cik: int, accession: str, doc: str) -> None:
    path = f"/Archives/edgar/data/{cik}/{accession.replace('-', '')}/{doc}"
    edgar.routes[path] = (200, primary_document(cik, "10-K", "2023-12-31"))


@pytest.mark.parametrize(
    ("accession", "document"),
    [
        ("../../../escaped-acc", "doc.htm"),
        ("/tmp/absolute-acc", "doc.htm"),
        (GOOD_ACC.replace("1", "2"), "../../../escaped-doc.htm"),
        (GOOD_ACC.replace("1", "3"), "/etc/escaped-doc.htm"),
        ("0000000001-24-00000\n1", "doc.htm"),
        (GOOD_ACC.replace("1", "4"), ".."),
        (7, "doc.htm"),
    ],
)
def test_server_identifiers_never_name_a_path(tmp_path: Path, accession, document) -> None:
    root = tmp_path / "a" / "b" / "c"
    landing = root / "landing"
    edgar = recorded_edgar()
    good_doc = "good-10k.htm"
    edgar.routes[f"/submissions/CIK{OTHER_CIK:010d}.json"] = (
        200,
        _submissions(OTHER_CIK, [(accession, document), (GOOD_ACC, good_doc)]),
    )
    _serve_good(edgar, OTHER_CIK, GOOD_ACC, good_doc)
    # Whatever a naive join would have asked for, the server would have answered.
    edgar.routes[
        f"/Archives/edgar/data/{OTHER_CIK}/{str(accession).replace('-', '')}/{document}"
    ] = (
        200,
        b"<html>escaped</html>",
    )
    with serving(edgar):
        client = EdgarClient(AGENT, retries=0)
        reports = download_new_filings(
            client,
            landing,
            ciks=[OTHER_CIK, TESLA_CIK],
            since="2022-07-01",
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert _files_outside(tmp_path, landing) == []
    assert not Path("/tmp/absolute-acc_doc.htm").exists()
    other, tesla = reports
    # The bad filing is reported, the good one of the same company and the next company land.
    assert other.status == "partial" and other.downloaded == [f"{GOOD_ACC}_{good_doc}"]
    assert len(other.failed) == 1 and "skipped" in other.reason
    assert tesla.status == "ok" and len(tesla.downloaded) == 2
    assert not any(p.name.endswith(".part") for p in landing.rglob("*"))


def test_a_landing_subfolder_linked_outside_is_not_written(tmp_path: Path) -> None:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    landing.mkdir()
    outside.mkdir()
    (landing / "submissions").symlink_to(outside)
    # A part file planted as a link to a file outside is replaced, never written through.
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    edgar = recorded_edgar()
    with serving(edgar):
        reports = download_new_filings(
            EdgarClient(AGENT, retries=0),
            landing,
            ciks=[TESLA_CIK],
            since="2022-07-01",
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert reports[0].status == "failed" and "outside" in reports[0].reason
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert victim.read_text() == "keep me"
    with pytest.raises(ValueError, match="outside"):
        confined(landing, "submissions")


def test_a_planted_part_link_is_not_followed(tmp_path: Path) -> None:
    landing, victim = tmp_path / "landing", tmp_path / "victim.txt"
    landing.mkdir()
    victim.write_text("keep me")
    edgar = recorded_edgar()
    with serving(edgar):
        client = EdgarClient(AGENT, retries=0)
        docs = [p for p in edgar.routes if p.startswith("/Archives/")]
        # Plant `.<file>.part` links for every document the download will write.
        for path in docs:
            parts = path.split("/")
            acc = parts[-2]
            name = f"{acc[:10]}-{acc[10:12]}-{acc[12:]}_{parts[-1]}"
            if not (landing / f".{name}.part").is_symlink():
                os.symlink(victim, landing / f".{name}.part")
        download_new_filings(
            client,
            landing,
            ciks=[TESLA_CIK],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert victim.read_text() == "keep me"
    assert not [p for p in landing.iterdir() if p.is_symlink()]  # swept, never written through


def _redirect_to(location: str):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def test_redirects_go_only_to_the_configured_host(tmp_path: Path) -> None:
    edgar, elsewhere = recorded_edgar(), recorded_edgar()
    elsewhere.routes["/secret"] = (200, b"internal service body")
    with serving(edgar), serving(elsewhere):
        edgar.handlers["/away"] = _redirect_to(f"{elsewhere.base_url}/secret")
        edgar.handlers["/file-scheme"] = _redirect_to("file:///etc/passwd")
        edgar.handlers["/here"] = _redirect_to("/files/company_tickers.json")
        client = EdgarClient(AGENT, retries=0)
        with pytest.raises(EdgarError, match="redirect to .* refused"):
            client.get(f"{edgar.base_url}/away")
        with pytest.raises(EdgarError, match="refused"):
            client.get(f"{edgar.base_url}/file-scheme")
        assert client.get(f"{edgar.base_url}/here").startswith(b"{")  # same host: followed
        # A configured second host (data.sec.gov beside www.sec.gov) is allowed.
        trusting = EdgarClient(AGENT, retries=0, allowed_origins=[elsewhere.base_url])
        assert trusting.get(f"{edgar.base_url}/away") == b"internal service body"
        edgar.handlers["/loop"] = _redirect_to("/loop")
        with pytest.raises(EdgarError, match="redirects"):
            client.get(f"{edgar.base_url}/loop")
    assert [p for _, p, _ in elsewhere.log] == ["/secret"]  # only the trusting client went


def _endless(declare: bool):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if declare:
            handler.send_header("Content-Length", str(2 << 30))
        handler.end_headers()
        block = b"x" * (1 << 20)
        for _ in range(2048):  # 2 GB unless the client hangs up
            handler.wfile.write(block)

    return answer


@pytest.mark.parametrize("declare", [True, False])
def test_a_huge_body_is_refused_in_bounded_memory(tmp_path: Path, declare: bool) -> None:
    edgar = recorded_edgar()
    edgar.handlers["/huge"] = _endless(declare)
    me = psutil.Process()
    before = me.memory_info().rss
    with serving(edgar):
        client = EdgarClient(AGENT, retries=0, max_bytes=8 << 20)
        began = time.monotonic()
        with pytest.raises(EdgarError, match="cap"):
            client.get(f"{edgar.base_url}/huge")
    assert time.monotonic() - began < 60
    assert (me.memory_info().rss - before) / 2**20 < 100


def test_a_huge_document_is_reported_and_the_others_land(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    edgar = recorded_edgar()
    listing = json.loads(edgar.routes[f"/submissions/CIK{TESLA_CIK:010d}.json"][1])
    edgar.handlers[filings_of(listing)[0].url("")] = _endless(False)
    with serving(edgar):
        client = EdgarClient(AGENT, retries=0, max_bytes=4 << 20)
        [report] = download_new_filings(
            client,
            landing,
            ciks=[TESLA_CIK],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert report.status == "partial" and len(report.failed) == 1 and "cap" in report.reason
    assert len(report.downloaded) == 7
    assert not list(landing.glob(".*.part"))  # the refused body's part file is gone


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.5)


def _slow_headers(handler: BaseHTTPRequestHandler) -> None:
    for _ in range(100):
        handler.wfile.write(b"H")
        handler.wfile.flush()
        time.sleep(0.5)


@pytest.mark.parametrize("answer", [_trickle, _slow_headers])
def test_a_trickling_server_is_cut_at_the_deadline(tmp_path: Path, answer) -> None:
    edgar = recorded_edgar()
    edgar.handlers["/slow"] = answer
    with serving(edgar):
        client = EdgarClient(AGENT, retries=0, timeout_s=30, deadline_s=2.0)
        began = time.monotonic()
        with pytest.raises(EdgarError, match="deadline|request failed"):
            client.get(f"{edgar.base_url}/slow")
        assert time.monotonic() - began < 15  # the 2 s deadline, not 1000 x 0.5 s


def test_malformed_ticker_map_rows_are_skipped_with_a_reason(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    good = json.loads(edgar.routes["/files/company_tickers.json"][1])
    rows = list(good.values()) if isinstance(good, dict) else good
    hostile = {
        "0": {"ticker": "NOCIK", "title": "no cik"},
        "1": "just a string",
        "2": {"ticker": "WORDS", "cik_str": "not-a-number"},
        "3": {"ticker": "NEG", "cik_str": -5},
        "4": ["a", "list"],
        "5": {"ticker": "../X", "cik_str": 12},
        **{str(10 + i): row for i, row in enumerate(rows)},
    }
    edgar.routes["/files/company_tickers.json"] = (200, json.dumps(hostile).encode())
    with serving(edgar):
        reports = download_new_filings(
            EdgarClient(AGENT, retries=0),
            tmp_path / "landing",
            tickers=["TSLA", "NOCIK", "WORDS"],
            since="2022-07-01",
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    by = {r.company: r for r in reports}
    assert by["TSLA"].status == "ok" and len(by["TSLA"].downloaded) == 2
    assert by["NOCIK"].status == "failed" and "malformed rows skipped" in by["NOCIK"].reason
    assert by["WORDS"].status == "failed"
    # A ticker map that is no list or object at all fails the tickers, with the reason.
    edgar.routes["/files/company_tickers.json"] = (200, b'"just a string"')
    with serving(edgar):
        reports = download_new_filings(
            EdgarClient(AGENT, retries=0),
            tmp_path / "landing",
            tickers=["TSLA"],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert reports[0].status == "failed" and "ticker map" in reports[0].reason


def test_partial_downloads_are_swept_next_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "submissions").mkdir(parents=True)
    (landing / f".{GOOD_ACC}_doc.htm.part").write_bytes(b"half a doc")
    (landing / "submissions" / ".CIK0001318605.json.part").write_bytes(b"{")
    keep = landing / "0000000009-24-000009_kept.htm"
    keep.write_bytes(b"<html>a filing</html>")
    assert sorted(sweep_partials(landing)) == [
        ".0000000001-24-000001_doc.htm.part",
        ".CIK0001318605.json.part",
    ]
    assert keep.exists() and not list(landing.rglob("*.part"))
    # And the download runs sweep on their own before starting.
    (landing / f".{GOOD_ACC}_doc.htm.part").write_bytes(b"half a doc")
    edgar = recorded_edgar()
    with serving(edgar):
        download_new_filings(
            EdgarClient(AGENT, retries=0),
            landing,
            ciks=[],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
    assert not list(landing.rglob("*.part"))


@pytest.mark.parametrize("answer", ["redirect", "huge", "trickle"])
def test_alpha_vantage_is_bounded_the_same_way(answer: str) -> None:
    """The other online source shares the bounded GET (compute/http/request.py)."""
    server, elsewhere = recorded_edgar(), recorded_edgar()
    elsewhere.routes["/query"] = (200, b'{"leak": true}')
    with serving(server), serving(elsewhere):
        server.handlers["/query"] = {
            "redirect": _redirect_to(f"{elsewhere.base_url}/query"),
            "huge": _endless(False),
            "trickle": _trickle,
        }[answer]
        source = AlphaVantageSource(
            "key", base_url=f"{server.base_url}/query", timeout_s=1.0, deadline_s=2.0
        )
        began = time.monotonic()
        with pytest.raises(AlphaVantageError, match="refused|deadline|cannot reach"):
            source._get(source.series, "IBM")
        assert time.monotonic() - began < 30
    assert elsewhere.log == []
