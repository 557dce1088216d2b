"""Cross-reference-index 10-Ks on the real GE and Intel 2023 filings; ordinary ones left alone."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from lxml import html as lxml_html

from memwise_assets.compute.filings import xref
from memwise_assets.compute.filings.xref import XrefSection, cross_reference_sections
from memwise_assets.compute.filings.xref_index import find_index_table, table_rows

FIXTURES = Path(__file__).parents[2] / "fixtures" / "xref"
ITEMS_10K = "1 1A 1B 1C 2 3 4 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16".split()

# What each index says, read off the filings: pages, "Not applicable"/"None", or a
# footnote "Incorporated by reference to ... Proxy Statement".
NA, INC, XR = "not-applicable", "incorporated-by-reference", "cross-reference"
GE_SOURCES = {item: XR for item in ITEMS_10K}
GE_SOURCES.update(dict.fromkeys(["1B", "4", "6", "9", "9B", "9C", "16"], NA))
GE_SOURCES.update(dict.fromkeys(["11", "12", "13", "14"], INC))
INTEL_SOURCES = {**GE_SOURCES, "9B": XR}


def _read(name: str) -> str:
    return gzip.decompress((FIXTURES / f"{name}.htm.gz").read_bytes()).decode("utf-8")


@pytest.fixture(scope="module")
def ge() -> dict[str, XrefSection]:
    sections = cross_reference_sections(_read("ge_10-K_2023"))
    assert sections is not None
    assert len({s.item for s in sections}) == len(sections), "duplicate items"
    return {s.item: s for s in sections}


@pytest.fixture(scope="module")
def intel() -> dict[str, XrefSection]:
    sections = cross_reference_sections(_read("intel_10-K_2023"))
    assert sections is not None
    assert len({s.item for s in sections}) == len(sections), "duplicate items"
    return {s.item: s for s in sections}


def test_every_index_item_in_order_with_its_source(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    assert list(ge) == ITEMS_10K and list(intel) == ITEMS_10K
    assert {k: s.source for k, s in ge.items()} == GE_SOURCES
    assert {k: s.source for k, s in intel.items()} == INTEL_SOURCES
    assert ge["7"].title == (
        "Management’s Discussion and Analysis of Financial Condition and Results of Operations"
    )
    assert intel["1"].title == "Business" and intel["6"].title == "[Reserved]"
    assert (ge["7"].pages, ge["7A"].pages, ge["8"].pages, ge["1C"].pages) == (
        "6-25",
        "16, 74-76",
        "41-81",
        "26-27",
    )


def test_item_1a_begins_with_risk_factors(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    assert ge["1A"].text.startswith("RISK FACTORS. The following discussion of the material")
    assert intel["1A"].text.startswith(
        "Risk Factors\nThe following summarizes the material factors that make an investment"
    )
    assert ge["1A"].boundary == intel["1A"].boundary == "heading"
    # GE's risk factors end on page 36 where Legal Proceedings (Item 3) begins.
    assert "LEGAL PROCEEDINGS" not in ge["1A"].text
    assert ge["3"].text.startswith("LEGAL PROCEEDINGS. Refer to Legal Matters")


def test_item_7_is_the_mdna(ge: dict[str, XrefSection], intel: dict[str, XrefSection]) -> None:
    assert ge["7"].text.startswith(
        "MANAGEMENT’S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND RESULTS OF OPERATIONS"
    )
    assert ge["7"].boundary == "heading"
    # Page 6 opens with Item 1 text; Item 1's range 4-6 stops at the MD&A heading.
    assert "MANAGEMENT’S DISCUSSION" not in ge["1"].text
    assert "ADDITIONAL INFORMATION ABOUT GE" in ge["1"].text
    for section in (ge["7"], intel["7"]):
        assert len(section.text) > 50_000
        assert "Liquidity" in section.text and "Critical Accounting Estimates" in section.text
    assert "Results of Operations" in intel["7"].text


def test_item_8_holds_the_financial_statements(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    assert ge["8"].text.startswith("STATEMENT OF EARNINGS (LOSS)")
    assert "STATEMENT OF FINANCIAL POSITION" in ge["8"].text
    assert "Consolidated Balance Sheets" in intel["8"].text
    assert "Consolidated Statements of Cash Flows" in intel["8"].text
    assert len(ge["8"].text) > 100_000 and len(intel["8"].text) > 100_000


def test_part_iii_incorporated_by_reference(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    for item in ("11", "12", "13", "14"):
        assert "Proxy Statement" in ge[item].text and ge[item].boundary == "index"
        assert intel[item].text == (
            "Incorporated by reference to the applicable section of the 2024 Proxy Statement."
        )
    assert ge["14"].text.startswith("Incorporated by reference to “Independent Auditor”")
    # Item 10 lists a page (executive officers) and the proxy statement for the rest.
    assert ge["10"].text.startswith("DIRECTORS, EXECUTIVE OFFICERS AND CORPORATE GOVERNANCE")
    assert ge["10"].note == 'Incorporated by reference to "Governance" in the 2023 Proxy Statement.'
    assert "EXHIBITS AND FINANCIAL STATEMENT SCHEDULES" not in ge["10"].text
    assert intel["10"].text.startswith("Information About Our Executive Officers")
    assert intel["10"].note.endswith("2024 Proxy Statement.")


def test_not_applicable_items_keep_the_index_statement(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    assert (ge["1B"].text, intel["1B"].text) == ("Not applicable", "None")
    assert (intel["6"].text, intel["6"].source) == ("[Reserved]", NA)


def test_mid_page_ranges_trim_to_headings(intel: dict[str, XrefSection]) -> None:
    # 7A (pages 64-65) starts mid-page 64 and stops where Cybersecurity starts on page 65.
    assert intel["7A"].text.startswith("Quantitative and Qualitative Disclosures About Market Risk")
    assert "Cybersecurity" not in intel["7A"].text
    assert intel["1C"].text.startswith("Cybersecurity\nWe face significant and persistent")
    assert "Properties" not in intel["1C"].text.splitlines()
    assert intel["9B"].text.startswith("Disclosure Pursuant to Section 13(r)")


def test_text_is_clean_and_faithful(
    ge: dict[str, XrefSection], intel: dict[str, XrefSection]
) -> None:
    for sections in (ge, intel):
        for s in sections.values():
            assert s.text == s.text.strip() and "\n\n" not in s.text and "  " not in s.text
    # Page footers, running headers and the hidden inline-XBRL header are gone.
    assert not any("2023 FORM 10-K" in s.text for s in ge.values())
    assert not any("Table of Contents" in s.text.splitlines() for s in intel.values())
    assert not any("0000040545" in s.text for s in ge.values())  # CIK in ix:hidden
    assert "Remaining performance obligation (RPO)" in ge["7"].text  # case kept


@pytest.mark.parametrize("name", ["medicis-pharmaceutical_10-K_1999", "wells-fargo_10-K_2024"])
def test_ordinary_filings_return_none_without_parsing(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ordinary filings must not be parsed by the cross-reference path")

    monkeypatch.setattr(xref, "_parse_html", no_parse)
    html = _read(name)
    assert not xref.has_cross_reference_index(html)
    assert cross_reference_sections(html) is None


def test_index_table_is_the_cross_reference_one_not_the_contents() -> None:
    root = lxml_html.document_fromstring(_read("ge_10-K_2023").split("?>", 1)[1])
    rows = table_rows(find_index_table(root))
    assert rows[0] == ["FORM 10-K CROSS REFERENCE INDEX", "Page(s)"]
    assert [
        "Item 7A.",
        "Quantitative and Qualitative Disclosures About Market Risk",
        "16, 74-76",
    ] in rows
