"""The one public-time rule, and one acceptance time per EDGAR string from every source."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from memwise_assets.compute.acceptance import (
    EASTERN,
    UTC,
    clock_mismatches,
    filer_clock,
    parse_acceptance,
    predicted_filing_date,
)
from memwise_assets.compute.company.sec_facts import acceptance_by_accession
from memwise_assets.compute.edgar.source import filings_of
from memwise_assets.compute.filings.metadata import (
    FilingMetadata,
    filing_metadata,
    header_metadata,
    read_sidecar,
    sidecar_path,
    submissions_metadata,
)
from memwise_assets.compute.point_in_time import public_session

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sec_facts"
NY = "America/New_York"


def _tesla() -> dict:
    return json.loads((FIXTURES / "submissions_CIK0001318605.json").read_text())


def _utc_filer() -> dict:
    """Tesla's real filings, their acceptance times rewritten as true UTC (a UTC filer)."""
    data = _tesla()
    recent = data["filings"]["recent"]
    recent["acceptanceDateTime"] = [
        parse_acceptance(v, clock=EASTERN).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for v in recent["acceptanceDateTime"]
    ]
    return data


@pytest.mark.parametrize(
    ("accepted_ny", "known", "session"),
    [
        ("2024-02-05 08:00", None, "2024-02-05"),  # before the open: that session
        ("2024-02-05 09:29:59", None, "2024-02-05"),
        ("2024-02-05 09:30", None, "2024-02-06"),  # at the open: too late for it
        ("2024-02-05 16:05", None, "2024-02-06"),
        ("2024-02-09 18:00", None, "2024-02-12"),  # Friday evening: Monday
        ("2024-02-10 08:00", None, "2024-02-12"),  # Saturday
        ("2024-03-28 17:00", None, "2024-04-01"),  # Good Friday is no session
        ("2024-03-10 08:00", None, "2024-03-11"),  # DST Sunday
        (None, "2024-02-05", "2024-02-06"),  # date only: the next session after it
        (None, "2024-02-09", "2024-02-12"),
        (None, "2024-03-28", "2024-04-01"),
        ("2024-02-05 08:00", "2024-02-05", "2024-02-05"),  # the time wins over the date
    ],
)
def test_the_one_rule(accepted_ny: str | None, known: str | None, session: str) -> None:
    accepted = pd.Series([pd.Timestamp(accepted_ny, tz=NY) if accepted_ny else pd.NaT])
    got = public_session(accepted, pd.Series([pd.Timestamp(known) if known else pd.NaT]))
    assert got.iloc[0] == pd.Timestamp(session)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_datetime_unit_gives_the_same_sessions(unit: str) -> None:
    accepted = pd.Series(pd.to_datetime(["2024-02-05 13:00", "2024-02-05 15:00"]))
    dates = pd.Series(pd.to_datetime(["2024-02-05", "2024-02-09"]))
    got = public_session(
        accepted.astype(f"datetime64[{unit}]").dt.tz_localize("UTC"),
        dates.astype(f"datetime64[{unit}]"),
    )
    assert list(got) == [pd.Timestamp("2024-02-05"), pd.Timestamp("2024-02-06")]
    date_only = public_session(None, dates.astype(f"datetime64[{unit}]"))
    assert list(date_only) == [pd.Timestamp("2024-02-06"), pd.Timestamp("2024-02-12")]


def test_tesla_writes_new_york_time_and_a_utc_filer_is_found() -> None:
    assert filer_clock(_tesla()) == EASTERN
    assert filer_clock(_utc_filer()) == UTC
    assert filer_clock({}) == EASTERN  # nothing to judge by: the later reading


def test_unresolved_filers_are_never_public_earlier_than_the_truth() -> None:
    # Only filings accepted where both readings give the same filing date: no evidence.
    data = {
        "filings": {
            "recent": {
                "acceptanceDateTime": ["2024-02-05T14:00:00.000Z", "2024-02-06T15:00:00.000Z"],
                "filingDate": ["2024-02-05", "2024-02-06"],
                "form": ["8-K", "10-Q"],
            }
        }
    }
    clock = filer_clock(data)
    for raw in data["filings"]["recent"]["acceptanceDateTime"]:
        got = parse_acceptance(raw, clock=clock)
        assert got >= parse_acceptance(raw, clock=UTC)
        assert got >= parse_acceptance(raw, clock=EASTERN)


@pytest.mark.parametrize("make", [_tesla, _utc_filer])
def test_the_same_edgar_string_is_the_same_instant_from_every_source(make, tmp_path) -> None:
    data = make()
    recent = data["filings"]["recent"]
    i = recent["form"].index("10-K")
    raw, accession = recent["acceptanceDateTime"][i], recent["accessionNumber"][i]
    truth = parse_acceptance(raw, clock=filer_clock(data))
    # Submissions data, the download's filing list, the SEC facts' acceptance map.
    known = FilingMetadata(accession=accession)
    assert submissions_metadata(data, known).accepted_at == truth
    listed = {f.accession: f for f in filings_of(data, forms=("10-K",))}
    assert pd.Timestamp(listed[accession].accepted_at) == truth
    assert acceptance_by_accession(data)[accession] == truth
    # A sidecar holding the EDGAR string itself, beside the filer's submissions data.
    doc = tmp_path / f"{accession}_doc.htm"
    doc.write_bytes(b"<html><body>FORM 10-K</body></html>")
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "CIK0001318605.json").write_text(json.dumps(data))
    sidecar_path(doc).write_text(json.dumps({"cik": 1318605, "accepted_at": raw}))
    assert filing_metadata(doc, doc.read_bytes()).accepted_at == truth
    # A sidecar written by the download (explicit offset) reads as the same instant too.
    sidecar_path(doc).write_text(json.dumps({"accepted_at": listed[accession].accepted_at}))
    assert read_sidecar(sidecar_path(doc)).accepted_at == truth


def test_sgml_header_time_is_new_york() -> None:
    header = (
        b"<SEC-HEADER>\nACCESSION NUMBER:\t\t0000950170-22-000796\n"
        b"ACCEPTANCE-DATETIME:\t20220204201127\n</SEC-HEADER>"
    )
    got = header_metadata(header).accepted_at
    assert got == pd.Timestamp("2022-02-04 20:11:27", tz=NY)
    assert got == parse_acceptance("2022-02-04T20:11:27.000Z", clock=filer_clock(_tesla()))


@pytest.mark.parametrize(
    ("raw", "expected_utc"),
    [
        ("2024-03-10T02:30:00.000Z", "2024-03-10 07:00"),  # no such NY time: forward to 03:00
        ("20240310023000", "2024-03-10 07:00"),
        ("2024-11-03T01:30:00.000Z", "2024-11-03 06:30"),  # twice in NY: the later one
        ("20241103013000", "2024-11-03 06:30"),
        ("2024-02-05T10:00:00-05:00", "2024-02-05 15:00"),  # an explicit offset is believed
        ("2024-02-05T10:00:00+00:00", "2024-02-05 10:00"),
    ],
)
def test_dst_gaps_folds_and_offsets(raw: str, expected_utc: str) -> None:
    assert parse_acceptance(raw) == pd.Timestamp(expected_utc, tz="UTC")


def test_unreadable_acceptance_is_none() -> None:
    for raw in (None, "", "not a time", float("nan"), pd.NaT):
        assert parse_acceptance(raw) is None


def test_edgar_cutoff_predicts_tesla_filing_dates() -> None:
    recent = _tesla()["filings"]["recent"]
    checked, wrong = 0, []
    for raw, filed, form in zip(
        recent["acceptanceDateTime"], recent["filingDate"], recent["form"], strict=True
    ):
        if form in ("10-K", "10-Q", "10-K/A", "8-K"):
            if predicted_filing_date(parse_acceptance(raw)) != pd.Timestamp(filed):
                wrong.append(raw)
            checked += 1
    # One 8-K accepted 17:31:09 on 2019-04-19 kept its day: EDGAR's own slack.
    assert checked > 150 and wrong == ["2019-04-19T17:31:09.000Z"]
    counts = clock_mismatches(recent["acceptanceDateTime"], recent["filingDate"], recent["form"])
    assert counts[EASTERN] <= 1 < 10 < counts[UTC]
