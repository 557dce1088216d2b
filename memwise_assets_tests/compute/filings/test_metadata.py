"""Filing metadata (who and when) from SGML headers, dei facts, sidecars and submissions."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.filings import COLUMNS, filing_sections, load_nlp
from memwise_assets.compute.filings.metadata import (
    METADATA_COLUMNS,
    edgar_acceptance_utc,
    filing_metadata,
    header_metadata,
    linked_cik,
    sidecar_path,
)
from memwise_assets.compute.filings.source import read_bytes

FIXTURES = Path(__file__).parents[2] / "fixtures"
FILINGS = FIXTURES / "filings"
# (file, cik, accession, period, filed date) as the files' own headers / dei facts say.
HEADERS = {
    "apple_10-K_1994.txt": (320193, "0000320193-94-000016", "1994-09-30", "1994-12-13"),
    "apple_10-Q_1997.txt": (320193, "0000320193-97-000011", "1997-03-28", "1997-05-12"),
}
DEI = {
    "galaxy-next-generation_10-K_2021.htm": (1127993, "2021-06-30", None),
    "tesla_10-K_2023.htm": (1318605, "2023-12-31", "TSLA"),
    "tesla_10-K_2024.htm": (1318605, "2024-12-31", "TSLA"),
    "ibm_10-K_2023.htm": (51143, "2023-12-31", "IBM"),
    "ibm_10-K_2024.htm": (51143, "2024-12-31", "IBM"),
}
NO_CIK = ["commonwealth-income-growth-fund-v_10-K_2015.htm"]


def _landed(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with gzip.open(FILINGS / f"{name}.gz", "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


@pytest.mark.parametrize("name", list(HEADERS))
def test_full_submission_header_gives_accession_period_and_filing_date(name: str) -> None:
    cik, accession, period, filed = HEADERS[name]
    meta = filing_metadata(FILINGS / name, read_bytes(FILINGS / f"{name}.gz"))
    assert (meta.cik, meta.accession, meta.company) == (cik, accession, "APPLE COMPUTER INC")
    assert meta.period_of_report == pd.Timestamp(period)
    assert meta.filed_date == pd.Timestamp(filed) and not meta.filed_date_unknown
    assert meta.form == name.split("_")[1]


def test_1990s_header_of_another_form() -> None:
    meta = header_metadata((FIXTURES / "edgar" / "header_1990s.txt").read_bytes())
    assert (meta.cik, meta.accession) == (1035972, "0001012325-98-000004")
    assert meta.period_of_report == pd.Timestamp("1998-10-31")
    assert meta.filed_date == pd.Timestamp("1998-11-20")
    assert meta.form is None  # a Form 4: not a 10-K/10-Q


@pytest.mark.parametrize("name", list(DEI))
def test_inline_xbrl_dei_facts_give_cik_period_and_ticker(name: str) -> None:
    cik, period, ticker = DEI[name]
    meta = filing_metadata(FILINGS / name, read_bytes(FILINGS / f"{name}.gz"))
    assert (meta.cik, meta.ticker, meta.form) == (cik, ticker, "10-K")
    assert meta.period_of_report == pd.Timestamp(period)
    # No source here gives a filing date: the filing is flagged, never guessed.
    assert meta.filed_date is None and meta.filed_date_unknown


@pytest.mark.parametrize("name", NO_CIK)
def test_documents_without_header_or_dei_have_no_cik(name: str) -> None:
    meta = filing_metadata(FILINGS / name, read_bytes(FILINGS / f"{name}.gz"))
    assert meta.cik is None and meta.filed_date_unknown


def test_cik_from_exhibit_links_only_when_they_agree() -> None:
    # Alcoa's 2018 10-Q has no header or dei facts; its two exhibit links name CIK 1675149.
    data = read_bytes(FILINGS / "alcoa_10-Q_2018.htm.gz")
    assert filing_metadata(FILINGS / "alcoa_10-Q_2018.htm", data).cik == 1675149
    assert linked_cik(data) == 1675149
    other = b'<a href="https://www.sec.gov/Archives/edgar/data/4281/0001/x.htm">'
    assert linked_cik(data + other) is None  # another registrant's exhibit: unknown
    assert linked_cik(other) is None  # one link is not enough


def test_sidecar_fills_filing_date_and_acceptance(tmp_path: Path) -> None:
    path = _landed(tmp_path, "ibm_10-K_2024.htm")
    sidecar = {
        "accession": "0000051143-25-000015",
        "filed_date": "2025-02-25",
        "accepted_at": "2025-02-25T16:05:00-05:00",
        "cik": 51143,
        "ticker": "IBM",
        "form": "10-K",
    }
    sidecar_path(path).write_text(json.dumps(sidecar))
    meta = filing_metadata(path, path.read_bytes())
    assert meta.accession == "0000051143-25-000015"
    assert meta.filed_date == pd.Timestamp("2025-02-25")
    assert meta.accepted_at == pd.Timestamp("2025-02-25 21:05", tz="UTC")
    assert meta.period_of_report == pd.Timestamp("2024-12-31")  # dei still wins its fields


def test_broken_sidecar_is_ignored_and_the_filing_flagged(tmp_path: Path) -> None:
    path = _landed(tmp_path, "ibm_10-K_2023.htm")
    sidecar_path(path).write_text("{not json")
    meta = filing_metadata(path, path.read_bytes())
    assert meta.cik == 51143 and meta.filed_date_unknown


def test_sidecar_of_odd_types_never_breaks_the_filing(tmp_path: Path) -> None:
    path = _landed(tmp_path, "ibm_10-K_2023.htm")
    odd = {"form": 10, "cik": [1], "filed_date": "soon", "accepted_at": {}, "ticker": 7}
    sidecar_path(path).write_text(json.dumps(odd))
    meta = filing_metadata(path, path.read_bytes())
    assert (meta.cik, meta.form, meta.ticker) == (51143, "10-K", "IBM")  # dei facts win
    assert meta.filed_date is None and meta.accepted_at is None


def test_submissions_data_matched_by_form_and_period(tmp_path: Path) -> None:
    path = _landed(tmp_path, "tesla_10-K_2023.htm")
    (tmp_path / "submissions").mkdir()
    recent = {
        "accessionNumber": ["0001628280-24-002390", "0001628280-24-002391"],
        "form": ["10-K", "10-K/A"],
        "reportDate": ["2023-12-31", "2023-12-31"],
        "filingDate": ["2024-01-29", "2024-04-29"],
        "acceptanceDateTime": ["2024-01-26T21:30:00.000Z", "2024-04-29T16:30:00.000Z"],
    }
    record = {"cik": "1318605", "name": "Tesla, Inc.", "tickers": ["TSLA"]}
    record["filings"] = {"recent": recent}
    (tmp_path / "submissions" / "CIK0001318605.json").write_text(json.dumps(record))
    meta = filing_metadata(path, path.read_bytes())
    assert meta.accession == "0001628280-24-002390"
    assert meta.filed_date == pd.Timestamp("2024-01-29")
    assert meta.accepted_at == pd.Timestamp("2024-01-27 02:30", tz="UTC")


def test_edgar_acceptance_time_is_new_york_despite_its_z() -> None:
    # Tesla's FY2021 10-K: accepted Friday '20:11Z', filing date the next Monday.
    stamp = edgar_acceptance_utc("2022-02-04T20:11:27.000Z")
    assert stamp.tz_convert("America/New_York") == pd.Timestamp(
        "2022-02-04 20:11:27", tz="America/New_York"
    )


def test_every_section_row_carries_the_metadata(tmp_path: Path) -> None:
    path = _landed(tmp_path, "apple_10-Q_1997.txt")
    frame = filing_sections(path, nlp=load_nlp())
    assert list(frame.columns) == COLUMNS
    assert set(METADATA_COLUMNS) <= set(frame.columns)
    assert (frame["cik"] == 320193).all()
    assert (frame["accession"] == "0000320193-97-000011").all()
    assert (frame["period_of_report"] == pd.Timestamp("1997-03-28")).all()
    assert (frame["filed_date"] == pd.Timestamp("1997-05-12")).all()
    assert not frame["filed_date_unknown"].any()
    assert str(frame["accepted_at"].dtype) == "datetime64[ns, UTC]"
