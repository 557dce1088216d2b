"""Sidecars and submissions JSON are read under the filings' link rules: a link out of the
landing folder, a FIFO or an oversized file is ignored with a reason, never read."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from memwise_assets.compute.filings.landing import read_confined
from memwise_assets.compute.filings.metadata import filing_metadata
from memwise_assets_tests.builders.edgar_server import TESLA_CIK, primary_document

SECRET = {"company": "OUTSIDE-SECRET-COMPANY", "ticker": "LEAK", "cik": str(TESLA_CIK)}


def _landing(tmp_path: Path) -> tuple[Path, Path, bytes]:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    (landing / "submissions").mkdir(parents=True)
    outside.mkdir()
    doc = landing / "0000950170-22-000796_tsla-10k_20211231.htm"
    data = primary_document(TESLA_CIK, "10-K", "2021-12-31")
    doc.write_bytes(data)
    return landing, outside, data


def test_a_sidecar_linked_outside_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    landing, outside, data = _landing(tmp_path)
    doc = next(landing.glob("*.htm"))
    (outside / "secret.json").write_text(json.dumps(SECRET))
    Path(f"{doc}.json").symlink_to(outside / "secret.json")
    with caplog.at_level(logging.WARNING):
        meta = filing_metadata(doc, data)
    assert meta.company != "OUTSIDE-SECRET-COMPANY" and meta.ticker != "LEAK"
    assert "outside the landing folder" in caplog.text


def test_submissions_linked_outside_are_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    landing, outside, data = _landing(tmp_path)
    doc = next(landing.glob("*.htm"))
    secret = {"cik": TESLA_CIK, "name": "OUTSIDE-SECRET-COMPANY", "tickers": ["LEAK"]}
    (outside / "sub.json").write_text(json.dumps(secret))
    (landing / "submissions" / f"CIK{TESLA_CIK:010d}.json").symlink_to(outside / "sub.json")
    with caplog.at_level(logging.WARNING):
        meta = filing_metadata(doc, data)
    assert meta.company != "OUTSIDE-SECRET-COMPANY" and meta.ticker != "LEAK"
    assert "outside the landing folder" in caplog.text


def test_the_submissions_folder_linked_outside_is_not_read(tmp_path: Path) -> None:
    landing, outside, data = _landing(tmp_path)
    doc = next(landing.glob("*.htm"))
    (landing / "submissions").rmdir()
    secret = {"cik": TESLA_CIK, "name": "OUTSIDE-SECRET-COMPANY", "tickers": ["LEAK"]}
    (outside / f"CIK{TESLA_CIK:010d}.json").write_text(json.dumps(secret))
    (landing / "submissions").symlink_to(outside)
    meta = filing_metadata(doc, data)
    assert meta.company != "OUTSIDE-SECRET-COMPANY" and meta.ticker != "LEAK"


def test_a_link_inside_the_folder_is_read_as_filings_are(tmp_path: Path) -> None:
    landing, _, data = _landing(tmp_path)
    doc = next(landing.glob("*.htm"))
    (landing / "shared-sidecar.json").write_text(json.dumps({**SECRET, "company": "Inside Co"}))
    Path(f"{doc}.json").symlink_to(landing / "shared-sidecar.json")
    assert filing_metadata(doc, data).company == "Inside Co"


def test_fifos_devices_and_oversized_files_are_refused(tmp_path: Path) -> None:
    landing, _, _ = _landing(tmp_path)
    fifo = landing / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_confined(landing, fifo)  # returns at once: never blocks on the FIFO
    big = landing / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(ValueError, match="more than 1,024"):
        read_confined(landing, big, max_bytes=1024)
    (landing / "dev.json").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="outside"):
        read_confined(landing, landing / "dev.json")
    loop = landing / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match="cannot be resolved"):
        read_confined(landing, loop)
