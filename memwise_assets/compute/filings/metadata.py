"""Who filed a filing and when: CIK, company, form, period, filing date, acceptance time.

Four sources, read in this order, the first to give a field wins it:

1. the SGML header of a full-submission `.txt` (`ACCESSION NUMBER`, `CONFORMED PERIOD OF
   REPORT`, `FILED AS OF DATE`, `ACCEPTANCE-DATETIME`, `CENTRAL INDEX KEY`, `COMPANY
   CONFORMED NAME`);
2. the inline-XBRL `dei:` facts of an `.htm` (`EntityCentralIndexKey`, `DocumentType`,
   `DocumentPeriodEndDate`, `EntityRegistrantName`, `TradingSymbol`);
3. the sidecar `<file>.json` the EDGAR source writes beside each download;
4. EDGAR's submissions data of the company (`submissions/CIK##########.json` in the
   landing folder), matched by accession, else by form and period.

Where the header and the dei facts give no period of report, the cover page does ("For the
fiscal year ended December 30, 2017", "For the quarterly period ended June 30, 2018"),
before the sidecar and the submissions data.

Acceptance times of every source go through one parser (`compute/acceptance.py`): the
header's are New York time, EDGAR's JSON strings (submissions, and sidecars holding them)
read on the filer's own clock, found from its submissions data when that is in the folder.

A document none of these identify, but whose exhibit index links to EDGAR archive folders
(`/Archives/edgar/data/<cik>/...`) all of one CIK, at least twice, takes that CIK: links
that disagree (exhibits of another registrant) leave it unknown.

Everything is found with byte searches on the bytes already in hand: no second parse.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from memwise_assets.compute.acceptance import EASTERN, Clock, filer_clock, parse_acceptance
from memwise_assets.compute.filings.landing import read_confined
from memwise_assets.compute.filings.source import normalise_form

log = logging.getLogger(__name__)
_HEADER_BYTES = 1 << 14
_HEADER_FIELDS = {
    "accession": rb"ACCESSION NUMBER:\s*([0-9-]+)",
    "period_of_report": rb"CONFORMED PERIOD OF REPORT:\s*(\d{8})",
    "filed_date": rb"FILED AS OF DATE:\s*(\d{8})",
    "accepted_at": rb"ACCEPTANCE-DATETIME:\s*(\d{14})",
    "cik": rb"CENTRAL INDEX KEY:\s*(\d+)",
    "company": rb"COMPANY CONFORMED NAME:\s*([^\r\n]+)",
    "form": rb"CONFORMED SUBMISSION TYPE:\s*([^\s<]+)",
}
_HEADER = {k: re.compile(v) for k, v in _HEADER_FIELDS.items()}
_DEI_FIELDS = {
    "cik": "EntityCentralIndexKey",
    "form": "DocumentType",
    "period_of_report": "DocumentPeriodEndDate",
    "company": "EntityRegistrantName",
    "ticker": "TradingSymbol",
}
_IX_TAG = re.compile(rb"<(/?)ix:(nonNumeric|nonFraction)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_ARCHIVE_LINK = re.compile(rb"/Archives/edgar/data/(\d{1,10})/", re.I)
_TICKER = re.compile(r"[A-Za-z][A-Za-z.-]{0,9}")
_DATE_FORMATS = (
    "%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%B %d %Y", "%Y-%m-%d", "%m/%d/%Y", "%Y%m%d",
)  # fmt: skip
# The cover page names the period: "For the fiscal year ended December 30, 2017".
_COVER_BYTES = 1 << 18
_COVER_PERIOD = re.compile(
    r"for\s+the\s+(?:fiscal\s+year|quarterly\s+period|quarter|period|year)\s+ended:?\s*"
    r"([A-Za-z]{3,9}\.?\s+\d{1,2}\s*,?\s*\d{4})",
    re.I,
)
SUBMISSIONS_DIR = "submissions"
# Frame columns this module fills, in the order DESIGN.md gives them.
METADATA_COLUMNS = [
    "cik",
    "company",
    "form",
    "period_of_report",
    "filed_date",
    "accepted_at",
    "accession",
    "ticker",
    "filed_date_unknown",
]


@dataclass(frozen=True)
class FilingMetadata:
    """Identity and timing of one filing; None where no source gives the field."""

    cik: int | None = None
    company: str | None = None
    form: str | None = None
    period_of_report: pd.Timestamp | None = None
    filed_date: pd.Timestamp | None = None
    accepted_at: pd.Timestamp | None = None  # UTC
    accession: str | None = None
    ticker: str | None = None

    def filled_from(self, other: FilingMetadata) -> FilingMetadata:
        """This metadata with its missing fields taken from `other`."""
        missing = {
            f.name: getattr(other, f.name)
            for f in fields(self)
            if getattr(self, f.name) is None and getattr(other, f.name) is not None
        }
        return replace(self, **missing) if missing else self

    @property
    def filed_date_unknown(self) -> bool:
        return self.filed_date is None


def sidecar_path(path: str | Path) -> Path:
    """Where the EDGAR source writes a download's metadata: `<file>.json` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def filing_metadata(
    path: str | Path, data: bytes, start: int = 0, end: int | None = None
) -> FilingMetadata:
    """Metadata of the filing at `path` whose bytes are `data` (document span start:end)."""
    end = len(data) if end is None else end
    header = header_metadata(data).filled_from(dei_metadata(data, start, end))
    if header.period_of_report is None:
        # The document's own cover page before outside sources; it also lets the
        # submissions data match a filing without an accession by form and period.
        header = replace(header, period_of_report=cover_period(data, start, end))
    meta = header.filled_from(read_sidecar(sidecar_path(path)))
    if meta.cik is None:
        meta = replace(meta, cik=linked_cik(data, start, end))
    if meta.cik is not None:
        found = submissions_file(Path(path).parent, meta.cik)
        try:
            record = _load_json(found, Path(path).parent) if found is not None else None
        except ValueError as exc:
            log.warning("ignoring submissions data: %s", exc)
            record = None
        if record is not None:
            clock = filer_clock(record)
            # The sidecar's EDGAR string reads on the filer's clock, as the submissions do.
            cik = meta.cik
            meta = replace(
                header.filled_from(read_sidecar(sidecar_path(path), clock=clock)), cik=cik
            )
            meta = meta.filled_from(submissions_metadata(record, meta, clock=clock))
    return meta


def cover_period(data: bytes, start: int = 0, end: int | None = None) -> pd.Timestamp | None:
    """The period of report the cover page states ("For the fiscal year ended ...")."""
    end = len(data) if end is None else end
    head = data[start : min(end, start + _COVER_BYTES)].decode("utf-8", "replace")
    text = " ".join(html.unescape(_TAG.sub(" ", head)).split())
    found = _COVER_PERIOD.search(text)
    return _date(found.group(1)) if found else None


def header_metadata(data: bytes) -> FilingMetadata:
    """Fields of the SGML header at the top of a full-submission file (first 16 KB)."""
    head_end = data.find(b"</SEC-HEADER>", 0, _HEADER_BYTES)
    if head_end < 0:
        head_end = data.find(b"</IMS-HEADER>", 0, _HEADER_BYTES)
    if head_end < 0:
        return FilingMetadata()
    head = data[:head_end]
    found = {}
    for name, pattern in _HEADER.items():
        m = pattern.search(head)
        if m:
            found[name] = m.group(1).decode("latin-1").strip()
    return FilingMetadata(
        cik=_cik(found.get("cik")),
        company=found.get("company") or None,
        form=normalise_form(found.get("form")),
        period_of_report=_date(found.get("period_of_report")),
        filed_date=_date(found.get("filed_date")),
        accepted_at=parse_acceptance(found.get("accepted_at")),
        accession=found.get("accession"),
    )


def dei_metadata(data: bytes, start: int = 0, end: int | None = None) -> FilingMetadata:
    """Fields of the inline-XBRL `dei:` facts of an .htm document."""
    end = len(data) if end is None else end
    found = {}
    for name, concept in _DEI_FIELDS.items():
        value = _dei_fact(data, concept, start, end)
        if value:
            found[name] = value
    ticker = found.get("ticker")
    return FilingMetadata(
        cik=_cik(found.get("cik")),
        company=found.get("company"),
        form=normalise_form(found.get("form")),
        period_of_report=_date(found.get("period_of_report")),
        ticker=ticker.upper() if ticker and _TICKER.fullmatch(ticker) else None,
    )


def _dei_fact(data: bytes, concept: str, start: int, end: int) -> str | None:
    at = data.find(f'name="dei:{concept}"'.encode(), start, end)
    if at < 0:
        return None
    tag_start = data.rfind(b"<", start, at)
    open_end = data.find(b">", at, end)
    if tag_start < 0 or open_end < 0:
        return None
    # Facts nest (a period holding a fiscal-year-end fact): find the matching close tag.
    depth, pos = 1, open_end + 1
    for m in _IX_TAG.finditer(data, pos, min(end, pos + 4096)):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            inner = data[pos : m.start()].decode("utf-8", "replace")
            return " ".join(html.unescape(_TAG.sub("", inner)).split()) or None
    return None


def linked_cik(data: bytes, start: int = 0, end: int | None = None) -> int | None:
    """The one CIK every EDGAR archive link of the document names (two links at least)."""
    links = _ARCHIVE_LINK.findall(data, start, len(data) if end is None else end)
    return _cik(links[0].decode()) if len(links) >= 2 and len(set(links)) == 1 else None


def read_sidecar(path: Path, *, clock: Clock = EASTERN) -> FilingMetadata:
    """Metadata from a sidecar JSON (written by the EDGAR source); empty when absent.

    clock: how an EDGAR acceptance string without a believable offset reads (the filer's).
    """
    if not (path.is_file() or path.is_symlink()):
        return FilingMetadata()
    try:
        record = _load_json(path, path.parent)
    except ValueError as exc:
        # A broken sidecar costs the filing its dates (it is flagged), never its sections.
        log.warning("ignoring sidecar: %s", exc)
        return FilingMetadata()
    text = {k: _text(v) for k, v in record.items()}  # hand-written sidecars: any JSON types
    return FilingMetadata(
        cik=_cik(text.get("cik")),
        company=text.get("company"),
        form=normalise_form(text.get("form")),
        period_of_report=_date(text.get("period_of_report")),
        filed_date=_date(text.get("filed_date")),
        accepted_at=parse_acceptance(text.get("accepted_at"), clock=clock),
        accession=text.get("accession"),
        ticker=text.get("ticker"),
    )


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def submissions_file(folder: Path, cik: int) -> Path | None:
    """The company's recorded submissions JSON under `folder`/submissions, if there."""
    path = folder / SUBMISSIONS_DIR / f"CIK{cik:010d}.json"
    return path if path.is_file() or path.is_symlink() else None


def submissions_metadata(
    submissions: dict[str, Any], known: FilingMetadata, *, clock: Clock | None = None
) -> FilingMetadata:
    """The submissions-data record of the filing `known` describes (by accession, else
    by form and period); empty when none matches. clock: the filer's (default: found)."""
    recent = submissions.get("filings", {}).get("recent", {})
    accessions = recent.get("accessionNumber", [])
    index = None
    if known.accession in accessions:
        index = accessions.index(known.accession)
    elif known.form and known.period_of_report is not None:
        period = known.period_of_report.strftime("%Y-%m-%d")
        pairs = zip(recent.get("form", []), recent.get("reportDate", []), strict=False)
        # Exact form only: an amendment (10-K/A) of the same period is another filing.
        matches = [i for i, (f, r) in enumerate(pairs) if f == known.form and r == period]
        index = matches[0] if len(matches) == 1 else None
    tickers = submissions.get("tickers") or []
    company = FilingMetadata(
        cik=_cik(submissions.get("cik")),
        company=submissions.get("name") or None,
        ticker=tickers[0] if tickers else None,
    )
    if index is None:
        return company
    record = {key: values[index] for key, values in recent.items() if index < len(values)}
    return replace(
        company,
        form=normalise_form(record.get("form")),
        period_of_report=_date(record.get("reportDate")),
        filed_date=_date(record.get("filingDate")),
        accepted_at=parse_acceptance(
            record.get("acceptanceDateTime"),
            clock=clock if clock is not None else filer_clock(submissions),
        ),
        accession=record.get("accessionNumber") or None,
    )


def _load_json(path: Path, root: Path) -> dict[str, Any]:
    """A JSON object read under the landing folder's link rules (`read_confined`)."""
    try:
        value = json.loads(read_confined(root, path).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: expected a JSON object of filing metadata; {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object; got {type(value).__name__}")
    return value


def _cik(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and int(text) > 0 else None


def _date(value: object) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    text = " ".join(str(value).replace(",", ", ").split()).replace(" ,", ",").title()
    for fmt in _DATE_FORMATS:
        try:
            return pd.Timestamp(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return None


def edgar_acceptance_utc(value: object, clock: Clock = EASTERN) -> pd.Timestamp | None:
    """EDGAR's JSON `acceptanceDateTime` in UTC, read on `clock` (`compute/acceptance.py`).

    The default, New York, is right for filers such as Tesla (its 10-K accepted '20:11Z' on
    a Friday got Monday's filing date: only New York time explains it) and never earlier
    than the truth for the others.
    """
    return parse_acceptance(value, clock=clock)


def metadata_columns(meta: FilingMetadata, n: int) -> dict[str, pd.Series]:
    """The metadata as `n`-row columns of a sections frame (form excluded: it is chosen)."""

    def stamp(value: pd.Timestamp | None, dtype: str) -> pd.Series:
        return pd.Series([value] * n, dtype=dtype)

    return {
        "cik": pd.Series([meta.cik] * n, dtype="Int64"),
        "company": pd.Series([meta.company] * n, dtype=object),
        "period_of_report": stamp(meta.period_of_report, "datetime64[ns]"),
        "filed_date": stamp(meta.filed_date, "datetime64[ns]"),
        "accepted_at": stamp(meta.accepted_at, "datetime64[ns, UTC]"),
        "accession": pd.Series([meta.accession] * n, dtype=object),
        "ticker": pd.Series([meta.ticker] * n, dtype=object),
        "filed_date_unknown": pd.Series([meta.filed_date_unknown] * n, dtype=bool),
    }
