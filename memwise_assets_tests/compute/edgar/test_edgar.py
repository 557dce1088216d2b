"""The EDGAR source against recorded responses served on 127.0.0.1: what it downloads,
what it skips, how fast it asks, and how one failing company leaves the others alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.edgar import (
    SEC_MAX_REQUESTS_PER_S,
    EdgarClient,
    download_new_filings,
    filings_of,
)
from memwise_assets.compute.edgar.client import (
    PACED_REQUESTS_PER_S,
    EdgarError,
    check_user_agent,
)
from memwise_assets.compute.filings.metadata import filing_metadata
from memwise_assets.compute.http.pacing import RateLimiter
from memwise_assets_tests.builders.edgar_server import (
    FIXTURES,
    TESLA_CIK,
    max_in_any_second,
    recorded_edgar,
    serving,
)

AGENT = "memwise tests tests@example.com"
IBM_CIK = 51143
SUBMISSIONS = json.loads((FIXTURES / f"submissions_CIK{TESLA_CIK:010d}.json").read_text())
RECENT = SUBMISSIONS["filings"]["recent"]
PAIRS = zip(RECENT["accessionNumber"], RECENT["form"], strict=True)
WANTED = [a for a, f in PAIRS if f in ("10-K", "10-Q")]


def _download(edgar, landing: Path, client: EdgarClient, **kwargs) -> list:
    return download_new_filings(
        client,
        landing,
        data_base_url=edgar.base_url,
        www_base_url=edgar.base_url,
        **kwargs,
    )


def test_recorded_submissions_list_exactly_the_10k_and_10q() -> None:
    found = filings_of(SUBMISSIONS)
    assert sorted(f.accession for f in found) == sorted(WANTED) and len(WANTED) == 8
    assert all(f.form in ("10-K", "10-Q") for f in found)  # no 10-K/A, 8-K or Form 4
    tenk = next(f for f in found if f.accession == "0000950170-22-000796")
    # Accepted Friday 20:11 New York (EDGAR writes local time with a 'Z'): 01:11 UTC.
    assert tenk.accepted_at == "2022-02-05T01:11:27+00:00" and tenk.filed_date == "2022-02-07"


def test_downloads_new_filings_skips_them_next_time_and_paces_requests(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    already = filings_of(SUBMISSIONS)[0]
    (landing / already.file_name).write_bytes(b"<html>downloaded earlier</html>")
    edgar = recorded_edgar()
    # IBM's submissions keep answering 503: retried with backoff, then reported.
    edgar.faults[f"/submissions/CIK{IBM_CIK:010d}.json"] = [503] * 10
    first_doc = filings_of(SUBMISSIONS)[1]
    edgar.faults[first_doc.url("")] = [429]  # one 429, then the document
    with serving(edgar):
        limiter = RateLimiter(PACED_REQUESTS_PER_S, burst=1)
        client = EdgarClient(AGENT, retries=2, backoff_s=0.01, limiter=limiter)
        first = _download(edgar, landing, client, tickers=["TSLA", "NOPE"], ciks=[IBM_CIK])
        second = _download(edgar, landing, client, tickers=["TSLA"])
    by_company = {r.company: r for r in first}
    tesla = by_company["TSLA"]
    assert tesla.status == "ok" and tesla.skipped == 1
    new = sorted(a for a in WANTED if a != already.accession)
    assert sorted(n.split("_")[0] for n in tesla.downloaded) == new
    assert by_company["NOPE"].status == "failed" and "ticker map" in by_company["NOPE"].reason
    ibm = by_company[f"CIK {IBM_CIK}"]
    assert ibm.status == "failed" and "503" in ibm.reason
    # Second run: everything is there already, nothing is fetched but the listings.
    assert second[0].downloaded == [] and second[0].skipped == len(WANTED)
    docs = [p for p in edgar.log if p[1].startswith("/Archives/")]
    assert len(docs) == len(new) + 1  # each new document once, one of them again after a 429
    assert max_in_any_second([t for t, _, _ in edgar.log]) <= SEC_MAX_REQUESTS_PER_S
    assert len(edgar.log) > SEC_MAX_REQUESTS_PER_S  # enough requests for the bound to bite
    assert {agent for _, _, agent in edgar.log} == {AGENT}
    # Each download has its sidecar: filing date and acceptance time always known.
    for name in tesla.downloaded:
        meta = filing_metadata(landing / name, (landing / name).read_bytes())
        assert meta.cik == TESLA_CIK and meta.ticker == "TSLA"
        assert meta.filed_date is not None and meta.accepted_at is not None
        assert meta.accepted_at.tzinfo is not None and not meta.filed_date_unknown
    assert (landing / "submissions" / f"CIK{TESLA_CIK:010d}.json").is_file()
    assert not list(landing.glob(".*.part"))


def test_shared_limiter_paces_every_client_of_the_process(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    with serving(edgar):
        # Two clients on the process-wide limiter: together still under the ceiling.
        a, b = EdgarClient(AGENT), EdgarClient(AGENT)
        assert a.limiter is b.limiter
        for _ in range(8):
            a.get(f"{edgar.base_url}/files/company_tickers.json")
            b.get(f"{edgar.base_url}/files/company_tickers.json")
    assert max_in_any_second([t for t, _, _ in edgar.log]) <= SEC_MAX_REQUESTS_PER_S


@pytest.mark.parametrize("agent", [None, "", "memwise", "memwise research"])
def test_refuses_a_user_agent_without_contact(agent: str | None) -> None:
    with pytest.raises(ValueError, match="contact e-mail"):
        EdgarClient(agent)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contact e-mail"):
        check_user_agent(agent)


def test_a_refusal_is_not_retried(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    with serving(edgar):
        client = EdgarClient(AGENT, retries=3, backoff_s=0.01)
        with pytest.raises(EdgarError, match="HTTP 404"):
            client.get(f"{edgar.base_url}/no/such/thing")
    assert len(edgar.log) == 1


def test_unknown_form_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="forms must be among"):
        download_new_filings(EdgarClient(AGENT), tmp_path, tickers=["TSLA"], forms=["8-K"])


def test_sidecar_period_and_acceptance_round_trip(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    with serving(edgar):
        client = EdgarClient(AGENT)
        reports = _download(edgar, tmp_path, client, ciks=[TESLA_CIK], since="2022-07-01")
    names = reports[0].downloaded
    assert len(names) == 2  # the 10-Qs filed since July 2022
    meta = filing_metadata(tmp_path / names[-1], (tmp_path / names[-1]).read_bytes())
    assert meta.accession == "0000950170-22-019867"
    assert meta.period_of_report == pd.Timestamp("2022-09-30")
    assert meta.accepted_at == pd.Timestamp("2022-10-24 10:08:50", tz="UTC")


def test_full_history_reads_the_older_pages(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    tesla = json.loads(edgar.routes[f"/submissions/CIK{TESLA_CIK:010d}.json"][1])
    # An older page as EDGAR lists it under filings.files: one 10-K of 2013.
    page = {
        "accessionNumber": ["0001193125-13-096241"],
        "filingDate": ["2013-03-07"],
        "reportDate": ["2012-12-31"],
        "acceptanceDateTime": ["2013-03-07T16:30:51.000Z"],
        "form": ["10-K"],
        "primaryDocument": ["d452995d10k.htm"],
    }
    tesla["filings"]["files"] = [{"name": "CIK0001318605-submissions-001.json"}]
    edgar.routes[f"/submissions/CIK{TESLA_CIK:010d}.json"] = (200, json.dumps(tesla).encode())
    edgar.routes["/submissions/CIK0001318605-submissions-001.json"] = (
        200,
        json.dumps(page).encode(),
    )
    path = f"/Archives/edgar/data/{TESLA_CIK}/000119312513096241/d452995d10k.htm"
    edgar.routes[path] = (200, b"<html>FORM 10-K</html>")
    with serving(edgar):
        client = EdgarClient(AGENT)
        recent_only = _download(edgar, tmp_path / "a", client, ciks=[TESLA_CIK])
        everything = _download(edgar, tmp_path / "b", client, ciks=[TESLA_CIK], full_history=True)
    assert len(recent_only[0].downloaded) == len(WANTED)
    assert len(everything[0].downloaded) == len(WANTED) + 1
    assert everything[0].downloaded[0].startswith("0001193125-13-096241_")
