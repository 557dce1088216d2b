"""Every real filing in ../shared/data/sec (when present): the Items found, TOC never a section."""

from __future__ import annotations

from pathlib import Path

import pytest

from memwise_assets.compute.filings.pipeline import document_lines
from memwise_assets.compute.filings.sections import SIGNATURES, find_sections
from memwise_assets.compute.filings.source import open_document

SEC = Path(__file__).parents[4] / "shared" / "data" / "sec"
if not SEC.is_dir():
    SEC = Path("/work/shared/data/sec")
pytestmark = pytest.mark.skipif(not SEC.is_dir(), reason="no shared SEC filings here")

EXPECTED = {
    "alcoa_10-Q_2018.htm": "P1-1 P1-2 P1-3 P1-4 P2-1 P2-4 P2-6",
    "alphabet_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "amazon_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "amd_10-K_2017.htm": "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 16",
    "amd_10-K_2022.htm": "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "apple_10-K_1994.txt": "1 2 3 4 5 6 7 8 9 10 11 12 13 14",
    "apple_10-K_2024.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "apple_10-Q_1997.txt": "P1-1 P1-2 P2-1 P2-6",
    "boeing_10-K_2024.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "caterpillar_10-Q_2023.htm": "P1-1 P1-2 P1-3 P1-4 P2-1 P2-1A P2-2 P2-6",
    "coca-cola_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "commonwealth-income-growth-fund-v_10-K_2015.htm": (
        "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15"
    ),
    "facebook_10-Q_2019.htm": "P1-1 P1-2 P1-3 P1-4 P2-1 P2-1A P2-2 P2-6",
    "gainsco_10-K_2009.htm": "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15",
    "galaxy-next-generation_10-K_2021.htm": "1 1A 1B 2 3 4 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15 16",
    "ge_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "gencorp_10-K_2011.htm": "1 1A 1B 2 3 5 6 7 7A 8 9 9A 9B 10 11 12 13 14 15",
    "ibm_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "intel_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "jnj_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "medicis-pharmaceutical_10-K_1999.htm": "1 2 3 4 5 6 7 7A 8 9 10 11 12 13 14",
    "nvidia_10-K_2024.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "salesforce_10-K_2025.htm": "1 1A 1B 1C 2 3 4 4A 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "tesla_10-K_2023.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
    "wells-fargo_10-K_2024.htm": "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16",
}
# Annual-report layouts: their Items come from xref.py, the plain path only must not crash.
CROSS_REFERENCE = {"ge_10-K_2023.htm", "intel_10-K_2023.htm"}
# Item 7 is a pointer to the annual report exhibit in these.
BY_REFERENCE = {
    "ibm_10-K_2023.htm",
    "wells-fargo_10-K_2024.htm",
    "medicis-pharmaceutical_10-K_1999.htm",
}
# Item 8 points to F-pages placed after Item 15 in these.
STATEMENTS_AT_END = {
    "commonwealth-income-growth-fund-v_10-K_2015.htm",
    "gainsco_10-K_2009.htm",
    "nvidia_10-K_2024.htm",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_items_of_every_shared_filing(name: str) -> None:
    doc = open_document(SEC / name)
    sections = {s.item: s for s in find_sections(document_lines(doc), doc.form or "")}
    # Every filing here ends with its signatures page, a row of its own.
    assert " ".join(sections) == f"{EXPECTED[name]} {SIGNATURES}"
    assert 200 < len(sections[SIGNATURES].text) < 5_000
    if doc.form != "10-K" or name in CROSS_REFERENCE:
        return
    # A TOC entry owns a title and a page number; real Items 1 and 7 own pages.
    assert len(sections["1"].text) > 5_000
    if name not in BY_REFERENCE:
        assert len(sections["7"].text) > 5_000
        if name not in STATEMENTS_AT_END:
            assert len(sections["8"].text) > 5_000
