"""New 10-K/10-Q filings of a list of companies, downloaded from EDGAR into a landing folder.

Per company: its submissions JSON (saved under `<landing>/submissions/` for the metadata
reader), then each primary document of a wanted form not yet in the folder, written
atomically with a sidecar `<file>.json` (filed_date, accepted_at UTC, accession, cik,
ticker, form, period, company). The sidecar lands before its document, so whoever sees a
document sees its metadata. A company that fails is reported; the others go on.

Server-supplied identifiers are checked and writes confined by `edgar.files`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memwise_assets.compute.acceptance import filer_clock
from memwise_assets.compute.edgar.client import EdgarClient, EdgarError
from memwise_assets.compute.edgar.files import (
    UnsafeIdentifier,
    check_accession,
    check_document_name,
    confined,
    download_atomic,
    sweep_partials,
    write_atomic,
)
from memwise_assets.compute.filings import SUBMISSIONS_DIR, edgar_acceptance_utc, sidecar_path

DATA_BASE_URL = "https://data.sec.gov"
WWW_BASE_URL = "https://www.sec.gov"
FORMS = ("10-K", "10-Q")
_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,14}")
_log = logging.getLogger(__name__)


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

    def __post_init__(self) -> None:
        check_accession(self.accession)
        check_document_name(self.primary_document)
        check_document_name(self.file_name)
        if not (isinstance(self.cik, int) and self.cik > 0):
            raise UnsafeIdentifier(f"CIK must be a positive integer; got {self.cik!r}")

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


def ticker_map(
    client: EdgarClient, www_base_url: str = WWW_BASE_URL, problems: list[str] | None = None
) -> dict[str, int]:
    """EDGAR's ticker -> CIK map (company_tickers.json), tickers upper-case.

    A malformed row (no `cik_str`, not an object, a CIK that is no positive integer, an
    odd ticker) is skipped, its reason appended to `problems`; the other rows count.
    """
    data = client.get_json(f"{www_base_url}/files/company_tickers.json")
    if isinstance(data, dict):
        rows = list(data.values())
    elif isinstance(data, list):
        rows = data
    else:
        raise EdgarError(f"{www_base_url}/files/company_tickers.json", "expected rows of tickers")
    found: dict[str, int] = {}
    skipped: list[str] = []
    for i, row in enumerate(rows):
        try:
            ticker = str(row["ticker"]).strip().upper()
            cik = str(row["cik_str"]).strip()
            if not _TICKER.fullmatch(ticker):
                raise ValueError(f"ticker {ticker!r} is not a ticker")
            if not cik.isdigit() or int(cik) <= 0 or len(cik) > 10:
                raise ValueError(f"cik_str {row['cik_str']!r} is not a positive CIK")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            skipped.append(f"ticker map row {i} skipped: {type(exc).__name__}: {exc}"[:200])
            continue
        found[ticker] = int(cik)
    if skipped:
        _log.warning("%d malformed ticker map row(s) skipped; first: %s", len(skipped), skipped[0])
        if problems is not None:
            problems.extend(skipped)
    return found


def filings_of(
    submissions: dict[str, Any],
    forms: Sequence[str] = FORMS,
    since: str | None = None,
    problems: list[str] | None = None,
) -> list[EdgarFiling]:
    """The filings of `forms` (exact: no amendments) in a submissions JSON, oldest first.

    A row whose accession or document name is unsafe, or that is malformed, is skipped and
    its reason appended to `problems`; the other rows count.
    """
    recent = submissions.get("filings", {}).get("recent", {})
    cik = int(submissions["cik"])
    tickers = submissions.get("tickers") or []
    ticker = tickers[0] if tickers and isinstance(tickers[0], str) else None
    company = submissions.get("name")
    found = []
    clock = filer_clock(submissions)  # EDGAR's JSON times read on the filer's own clock
    for i, form in enumerate(recent.get("form", [])):
        try:
            filed = str(recent["filingDate"][i])
            if form not in forms or (since and filed < since):
                continue
            accepted = edgar_acceptance_utc(_at(recent, "acceptanceDateTime", i), clock)
            period = _at(recent, "reportDate", i)
            found.append(
                EdgarFiling(
                    cik=cik,
                    ticker=ticker if ticker and _TICKER.fullmatch(ticker.upper()) else None,
                    company=company if isinstance(company, str) else None,
                    form=form,
                    accession=recent["accessionNumber"][i],
                    filed_date=filed,
                    accepted_at=accepted.isoformat() if accepted is not None else None,
                    period_of_report=str(period) if period else None,
                    primary_document=recent["primaryDocument"][i],
                )
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            accession = _at(recent, "accessionNumber", i)
            reason = f"filing {accession!r} (row {i}) skipped: {exc}"[:300]
            _log.warning("%s", reason)
            if problems is not None:
                problems.append(reason)
    return sorted(found, key=lambda f: (f.filed_date, f.accession))


def _at(columns: dict[str, list[Any]], key: str, i: int) -> Any:
    """Row i of a submissions column; None where EDGAR left the column out or short."""
    values = columns.get(key) or []
    return values[i] if isinstance(values, list) and i < len(values) else None


def downloaded_accessions(landing: Path) -> set[str]:
    """Accessions whose document is already in the landing folder (resumability)."""
    if not landing.is_dir():
        return set()
    return {
        entry.name.split("_", 1)[0]
        for entry in os.scandir(landing)
        if "_" in entry.name and not entry.name.endswith(".json") and entry.is_file()
    }


def _store(client: EdgarClient, landing: Path, filing: EdgarFiling, url: str) -> None:
    target = confined(landing, filing.file_name)
    sidecar_target = confined(landing, sidecar_path(target).name)
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
    write_atomic(sidecar_target, json.dumps(sidecar, indent=1).encode())
    download_atomic(client, url, target)


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
        raw = client.get(f"{data_base_url}/submissions/CIK{cik:010d}.json", max_bytes=64 << 20)
        submissions = json.loads(raw)
        if not isinstance(submissions, dict):
            raise ValueError(f"expected a JSON object; got {type(submissions).__name__}")
        problems: list[str] = []
        wanted = filings_of(submissions, forms, since, problems)
        if full_history:
            older = _older_pages(client, submissions, forms, since, data_base_url, problems)
            wanted = older + wanted
        folder = confined(landing, SUBMISSIONS_DIR)
        folder.mkdir(exist_ok=True)
        write_atomic(confined(folder, f"CIK{cik:010d}.json"), raw)
    except (EdgarError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        report.status, report.reason = "failed", f"submissions: {exc}"
        return report
    for problem in problems:
        report.failed.append(problem)
        report.reason = report.reason or problem
    for filing in wanted:
        if filing.accession in have:
            report.skipped += 1
            continue
        try:
            _store(client, landing, filing, filing.url(www_base_url))
        except (EdgarError, OSError, ValueError) as exc:
            # One filing (a refused body, an unsafe name, a write error): the rest go on.
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
    problems: list[str],
) -> list[EdgarFiling]:
    found: list[EdgarFiling] = []
    for page in submissions.get("filings", {}).get("files", []):
        if since and page.get("filingTo", "9999") < since:
            continue
        name = check_document_name(page["name"])
        recent = client.get_json(f"{data_base_url}/submissions/{name}")
        found += filings_of({**submissions, "filings": {"recent": recent}}, forms, since, problems)
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
    sweep_partials(landing)
    companies: list[tuple[int | None, str, str]] = []
    tickers = [t.strip().upper() for t in tickers if t.strip()]
    if tickers:
        map_problems: list[str] = []
        try:
            known = ticker_map(client, www_base_url, map_problems)
        except (EdgarError, ValueError, TypeError) as exc:
            return [CompanyReport(t, status="failed", reason=f"ticker map: {exc}") for t in tickers]
        missing = "ticker not in EDGAR's ticker map"
        if map_problems:
            missing += f" ({len(map_problems)} malformed rows skipped; first: {map_problems[0]})"
        for ticker in tickers:
            cik = known.get(ticker)
            companies.append((cik, ticker, "" if cik else missing))
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
        try:
            report = download_company(
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
        except (EdgarError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # One company's bad data never stops the others (a step timeout still does).
            report = CompanyReport(label, cik, "failed", reason=f"{type(exc).__name__}: {exc}")
        reports.append(report)
    return reports
