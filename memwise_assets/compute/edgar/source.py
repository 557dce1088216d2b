"""New 10-K/10-Q filings of a list of companies, downloaded from EDGAR into a landing folder.

Per company: its submissions JSON (saved under `<landing>/submissions/` for the metadata
reader), then each primary document of a wanted form not yet in the folder, written
atomically with a sidecar `<file>.json` (filed_date, accepted_at UTC, accession, cik,
ticker, form, period, company). The sidecar lands before its document, so whoever sees a
document sees its metadata. A company that fails is reported; the others go on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memwise_assets.compute.acceptance import filer_clock
from memwise_assets.compute.edgar.client import EdgarClient, EdgarError
from memwise_assets.compute.filings.metadata import (
    SUBMISSIONS_DIR,
    edgar_acceptance_utc,
    sidecar_path,
)

DATA_BASE_URL = "https://data.sec.gov"
WWW_BASE_URL = "https://www.sec.gov"
FORMS = ("10-K", "10-Q")


@dataclass(frozen=True)
class EdgarFiling:
    """One filing as EDGAR's submissions data lists it."""

    cik: int
    ticker: str | None
    company: str | None
    form: str
    accession: str
    filed_date: str
    accepted_at: str | None  # UTC, ISO 8601
    period_of_report: str | None
    primary_document: str

    @property
    def file_name(self) -> str:
        """Landing-folder name: unique per accession, a plain partition key."""
        return f"{self.accession}_{self.primary_document}"

    def url(self, www_base_url: str) -> str:
        folder = self.accession.replace("-", "")
        return f"{www_base_url}/Archives/edgar/data/{self.cik}/{folder}/{self.primary_document}"


@dataclass
class CompanyReport:
    """What the download did for one company."""

    company: str
    cik: int | None = None
    status: str = "ok"  # ok | partial | failed
    downloaded: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    reason: str = ""


def ticker_map(client: EdgarClient, www_base_url: str = WWW_BASE_URL) -> dict[str, int]:
    """EDGAR's ticker -> CIK map (company_tickers.json), tickers upper-case."""
    data = client.get_json(f"{www_base_url}/files/company_tickers.json")
    rows = data.values() if isinstance(data, dict) else data
    return {str(r["ticker"]).upper(): int(r["cik_str"]) for r in rows}


def filings_of(
    submissions: dict[str, Any], forms: Sequence[str] = FORMS, since: str | None = None
) -> list[EdgarFiling]:
    """The filings of `forms` (exact: no amendments) in a submissions JSON, oldest first."""
    recent = submissions.get("filings", {}).get("recent", {})
    cik = int(submissions["cik"])
    tickers = submissions.get("tickers") or []
    found = []
    clock = filer_clock(submissions)  # EDGAR's JSON times read on the filer's own clock
    for i, form in enumerate(recent.get("form", [])):
        filed = recent["filingDate"][i]
        if form not in forms or (since and filed < since):
            continue
        accepted = edgar_acceptance_utc(_at(recent, "acceptanceDateTime", i), clock)
        found.append(
            EdgarFiling(
                cik=cik,
                ticker=tickers[0] if tickers else None,
                company=submissions.get("name"),
                form=form,
                accession=recent["accessionNumber"][i],
                filed_date=filed,
                accepted_at=accepted.isoformat() if accepted is not None else None,
                period_of_report=_at(recent, "reportDate", i) or None,
                primary_document=recent["primaryDocument"][i],
            )
        )
    return sorted(found, key=lambda f: (f.filed_date, f.accession))


def _at(columns: dict[str, list[Any]], key: str, i: int) -> Any:
    """Row i of a submissions column; None where EDGAR left the column out or short."""
    values = columns.get(key) or []
    return values[i] if i < len(values) else None


def downloaded_accessions(landing: Path) -> set[str]:
    """Accessions whose document is already in the landing folder (resumability)."""
    if not landing.is_dir():
        return set()
    return {
        entry.name.split("_", 1)[0]
        for entry in os.scandir(landing)
        if "_" in entry.name and not entry.name.endswith(".json") and entry.is_file()
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _store(landing: Path, filing: EdgarFiling, body: bytes) -> None:
    target = landing / filing.file_name
    sidecar = {
        "cik": filing.cik,
        "ticker": filing.ticker,
        "company": filing.company,
        "form": filing.form,
        "accession": filing.accession,
        "filed_date": filing.filed_date,
        "accepted_at": filing.accepted_at,
        "period_of_report": filing.period_of_report,
        "source": "edgar",
    }
    _write_atomic(sidecar_path(target), json.dumps(sidecar, indent=1).encode())
    _write_atomic(target, body)


def download_company(
    client: EdgarClient,
    landing: Path,
    cik: int,
    label: str,
    *,
    forms: Sequence[str] = FORMS,
    since: str | None = None,
    data_base_url: str = DATA_BASE_URL,
    www_base_url: str = WWW_BASE_URL,
    have: set[str] | None = None,
    full_history: bool = False,
) -> CompanyReport:
    """Download one company's new filings of `forms`; failures go into the report.

    full_history: also read the older pages `filings.files` lists (one request each,
    skipped when they end before `since`); by default only `filings.recent` (about the
    last 1,000 filings of any form).
    """
    report = CompanyReport(company=label, cik=cik)
    have = downloaded_accessions(landing) if have is None else have
    try:
        raw = client.get(f"{data_base_url}/submissions/CIK{cik:010d}.json")
        submissions = json.loads(raw)
        wanted = filings_of(submissions, forms, since)
        if full_history:
            wanted = _older_pages(client, submissions, forms, since, data_base_url) + wanted
    except (EdgarError, ValueError, KeyError, TypeError) as exc:
        report.status, report.reason = "failed", f"submissions: {exc}"
        return report
    (landing / SUBMISSIONS_DIR).mkdir(parents=True, exist_ok=True)
    _write_atomic(landing / SUBMISSIONS_DIR / f"CIK{cik:010d}.json", raw)
    for filing in wanted:
        if filing.accession in have:
            report.skipped += 1
            continue
        try:
            _store(landing, filing, client.get(filing.url(www_base_url)))
        except EdgarError as exc:
            report.failed.append(filing.accession)
            report.reason = report.reason or str(exc)
            continue
        have.add(filing.accession)
        report.downloaded.append(filing.file_name)
    if report.failed:
        report.status = "partial" if report.downloaded or report.skipped else "failed"
    return report


def _older_pages(
    client: EdgarClient,
    submissions: dict[str, Any],
    forms: Sequence[str],
    since: str | None,
    data_base_url: str,
) -> list[EdgarFiling]:
    found: list[EdgarFiling] = []
    for page in submissions.get("filings", {}).get("files", []):
        if since and page.get("filingTo", "9999") < since:
            continue
        recent = client.get_json(f"{data_base_url}/submissions/{page['name']}")
        found += filings_of({**submissions, "filings": {"recent": recent}}, forms, since)
    return sorted(found, key=lambda f: (f.filed_date, f.accession))


def download_new_filings(
    client: EdgarClient,
    landing: Path,
    *,
    tickers: Iterable[str] = (),
    ciks: Iterable[int] = (),
    forms: Sequence[str] = FORMS,
    since: str | None = None,
    data_base_url: str = DATA_BASE_URL,
    www_base_url: str = WWW_BASE_URL,
    full_history: bool = False,
) -> list[CompanyReport]:
    """Download the new filings of every company named by ticker or CIK; one report each."""
    bad = [f for f in forms if f not in FORMS]
    if bad:
        raise ValueError(f"forms must be among {list(FORMS)}; got {bad}")
    landing.mkdir(parents=True, exist_ok=True)
    companies: list[tuple[int | None, str, str]] = []
    tickers = [t.strip().upper() for t in tickers if t.strip()]
    if tickers:
        try:
            known = ticker_map(client, www_base_url)
        except EdgarError as exc:
            return [CompanyReport(t, status="failed", reason=f"ticker map: {exc}") for t in tickers]
        for ticker in tickers:
            cik = known.get(ticker)
            companies.append((cik, ticker, "" if cik else "ticker not in EDGAR's ticker map"))
    companies += [(int(c), f"CIK {int(c)}", "") for c in ciks]
    have = downloaded_accessions(landing)
    reports = []
    seen: set[int] = set()
    for cik, label, problem in companies:
        if cik is None:
            reports.append(CompanyReport(label, status="failed", reason=problem))
            continue
        if cik in seen:
            continue
        seen.add(cik)
        reports.append(
            download_company(
                client,
                landing,
                cik,
                label,
                forms=forms,
                since=since,
                data_base_url=data_base_url,
                www_base_url=www_base_url,
                have=have,
                full_history=full_history,
            )
        )
    return reports
