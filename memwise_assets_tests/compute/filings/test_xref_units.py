"""Cross-reference 10-Ks on small synthetic documents: page map, index rows, assembly rules."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from memwise_assets.compute.filings.xref import (
    cross_reference_sections,
    has_cross_reference_index,
)
from memwise_assets.compute.filings.xref_index import parse_index
from memwise_assets.compute.filings.xref_pages import build_page_map, roman_to_int

BREAK = '<div style="page-break-after: always"></div>'


def _page(body: str, footer: str | None) -> str:
    foot = f"<p>{footer}</p>" if footer is not None else ""
    return f"<div>{body}</div>{foot}{BREAK}"


def _root(html: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(html)


def test_roman_numerals() -> None:
    assert [roman_to_int(x) for x in ("i", "iv", "IX", "xl", "xiv")] == [1, 4, 9, 40, 14]
    assert roman_to_int("ivq") is None


def test_page_map_numbers_covers_images_and_company_footers() -> None:
    pages = [
        _page("<p>ACME CORP ANNUAL REPORT</p>", None),  # unnumbered cover
        _page("<p>Contents</p>", "ii"),
        _page("<p>Letter to shareholders.</p>", "iii"),
        _page("<p>About Acme.</p>", "Acme Corp | 2023 Form 10-K 1"),
        _page('<img src="chart.png"/>', None),  # full-page image, no text at all
        _page("<p>Results.</p><p>Table 7</p>", "Acme Corp | 2023 Form 10-K 3"),
        _page("<p>More results.</p>", "Acme Corp | 2023 Form 10-K 4"),
        _page("<p>Risk factors.</p>", "Acme Corp | 2023 Form 10-K 5"),
    ]
    pm = build_page_map(_root("<html><body>" + "".join(pages) + "</body></html>"))
    assert pm.numbers == [None, None, None, 1, 2, 3, 4, 5]
    assert pm.labels[1:3] == ["ii", "iii"]
    assert pm.page_of(2) == 4 and pm.pages[4] == []
    # Footers are layout: the page keeps its content and loses the running footer.
    assert pm.pages[5] == ["Results.", "Table 7"]
    assert pm.pages[3] == ["About Acme."]


def test_page_map_falls_back_to_hr_then_to_bare_number_footers() -> None:
    hr_doc = "".join(f"<p>Text {n}.</p><p>{n}</p><hr/>" for n in range(1, 6))
    pm = build_page_map(_root(f"<html><body>{hr_doc}</body></html>"))
    assert pm.numbers[:5] == [1, 2, 3, 4, 5]
    assert pm.pages[2] == ["Text 3."]
    bare = "".join(f"<p>Text {n}.</p><p>{n}</p>" for n in range(10, 14))
    pm = build_page_map(_root(f"<html><body>{bare}</body></html>"))
    assert pm.numbers[:4] == [10, 11, 12, 13]
    assert pm.pages[1] == ["Text 11."]


def test_page_map_ignores_table_of_contents_numbers() -> None:
    toc = _page(
        "<table><tr><td>Risk Factors</td><td>27</td></tr><tr><td>Signatures</td><td>87</td></tr>"
        "</table><p>87</p>",
        None,
    )
    body = "".join(_page(f"<p>Page text {n}.</p>", f"FORM 10-K {n}") for n in range(3, 9))
    pm = build_page_map(
        _root(f"<html><body>{_page('<p>Cover</p>', None)}{toc}{body}</body></html>")
    )
    assert pm.numbers == [1, 2, 3, 4, 5, 6, 7, 8]


def test_hidden_content_scripts_and_ix_header_carry_no_text() -> None:
    doc = (
        '<html><head><style>p {color: red}</style></head><body><div style="display:none">'
        "<ix:header><ix:hidden>SECRET</ix:hidden></ix:header></div><script>var x;</script>"
        "<p>Visible <b>bold</b>\u00a0text</p><p>1</p>" + BREAK + "<p>Next</p><p>2</p>" + BREAK
    )
    pm = build_page_map(_root(doc + "</body></html>"))
    assert pm.pages[0] == ["Visible bold text"]


def test_index_rows_ranges_marks_topics_and_statements() -> None:
    rows = [
        ["FORM 10-K CROSS REFERENCE INDEX", "Page(s)"],
        ["Part I"],
        ["Item 1.", "Business:"],
        ["General development of business", "Pages 3-9, 20"],
        ["Item 1A.", "Risk Factors", "27–36"],
        ["Item 1B.", "Unresolved Staff Comments", "Not applicable"],
        ["Item 6.", "[Reserved]"],
        ["Item 7.", "Management’s Discussion and Analysis", "6-25, 16"],
        ["Item 10.", "Directors", "82, (a)"],
        ["Item 11.", "Executive Compensation", "(b)"],
        ["Item 16.", "Form 10-K Summary", "None"],
        ["ITEMS 09a and 9b", "Other", "12"],
        ["Signatures", "87"],
        ["(b) Incorporated by reference to the Proxy Statement."],
    ]
    entries, notes = parse_index(rows)
    by_item = {e.item: e for e in entries}
    assert [e.item for e in entries] == ["1", "1A", "1B", "6", "7", "10", "11", "16", "9A", "9B"]
    assert [(r.first, r.last, r.topic) for r in by_item["1"].ranges] == [
        (3, 9, "General development of business"),
        (20, 20, "General development of business"),
    ]
    assert by_item["1"].title == "Business"
    assert [(r.first, r.last) for r in by_item["1A"].ranges] == [(27, 36)]
    assert by_item["1B"].statement == "Not applicable" and not by_item["1B"].ranges
    assert by_item["6"].title == "[Reserved]"
    assert [(r.first, r.last) for r in by_item["7"].ranges] == [(6, 25), (16, 16)]
    assert by_item["10"].marks == ["(a)"] and by_item["11"].marks == ["(b)"]
    # "Signatures 87" after a closed Item is not a page range of Item 16.
    assert by_item["16"].ranges == []
    assert [(r.first, r.last) for r in by_item["9B"].ranges] == [(12, 12)]
    assert notes == {"(b)": "Incorporated by reference to the Proxy Statement."}


def _synthetic_filing() -> str:
    body = [
        _page("<p>ACME CORP FORM 10-K</p><p>Annual report for 2023</p>", None),
        _page(
            "<p>ABOUT ACME. We make anvils.</p><p>Our plants are in Ohio.</p>", "2023 FORM 10-K 2"
        ),
        _page(
            "<p>More about anvils.</p><p>MANAGEMENT’S DISCUSSION AND ANALYSIS (MD&amp;A). "
            "Revenue rose.</p><p>Margins held.</p>",
            "2023 FORM 10-K 3",
        ),
        _page(
            "<p>Liquidity was ample.</p><p><b>Risk Factors</b></p><p>Anvils may fall.</p>",
            "2023 FORM 10-K 4",
        ),
        _page("<p>Prices may drop.</p><p>LEGAL PROCEEDINGS. None pending.</p>", "2023 FORM 10-K 5"),
        _page(
            "<table><tr><td>FORM 10-K CROSS REFERENCE INDEX</td><td>Page(s)</td></tr>"
            "<tr><td>Item 1.</td><td>Business</td><td>2-3</td></tr>"
            "<tr><td>Item 1A.</td><td>Risk Factors</td><td>4-5</td></tr>"
            "<tr><td>Item 1B.</td><td>Unresolved Staff Comments</td><td>Not applicable</td></tr>"
            "<tr><td>Item 2.</td><td>Properties</td><td>2</td></tr>"
            "<tr><td>Item 3.</td><td>Legal Proceedings</td><td>5</td></tr>"
            "<tr><td>Item 7.</td><td>Management’s Discussion and Analysis</td>"
            "<td>3-4, 4</td></tr>"
            "<tr><td>Item 7A.</td><td>Market Risk</td><td>4</td></tr>"
            "<tr><td>Item 10.</td><td>Directors</td><td>(a)</td></tr></table>"
            "<p>(a) Incorporated by reference to the 2024 Proxy Statement.</p>",
            "2023 FORM 10-K 6",
        ),
    ]
    return "<?xml version='1.0' encoding='ASCII'?><html><body>" + "".join(body) + "</body></html>"


def test_assembly_trims_to_headings_and_dedupes_overlaps() -> None:
    html = _synthetic_filing()
    assert has_cross_reference_index(html)
    sections = cross_reference_sections(html)
    assert sections is not None
    by_item = {s.item: s for s in sections}
    assert [s.item for s in sections] == ["1", "1A", "1B", "2", "3", "7", "7A", "10"]
    # Item 1 spans pages 2-3 and stops where the MD&A heading starts on page 3.
    assert by_item["1"].text == (
        "ABOUT ACME. We make anvils.\nOur plants are in Ohio.\nMore about anvils."
    )
    assert by_item["1"].boundary == "page"
    # Item 7 starts at its run-in heading; the repeated page 4 is not taken twice and the
    # range ends where "Risk Factors" starts.
    assert by_item["7"].text == (
        "MANAGEMENT’S DISCUSSION AND ANALYSIS (MD&A). Revenue rose.\nMargins held.\n"
        "Liquidity was ample."
    )
    assert (by_item["7"].boundary, by_item["7"].pages) == ("heading", "3-4, 4")
    assert by_item["1A"].text == "Risk Factors\nAnvils may fall.\nPrices may drop."
    assert by_item["1A"].boundary == "heading"
    assert by_item["3"].text == "LEGAL PROCEEDINGS. None pending."
    assert by_item["2"].text.startswith("ABOUT ACME.") and by_item["2"].source == "cross-reference"
    assert (by_item["1B"].source, by_item["1B"].text) == ("not-applicable", "Not applicable")
    assert by_item["10"].source == "incorporated-by-reference"
    assert by_item["10"].text == "Incorporated by reference to the 2024 Proxy Statement."
    # No page footer leaks into any Item.
    assert not any("FORM 10-K" in s.text for s in sections if s.item != "10")


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body><p>Item 1A. Risk Factors</p><p>Item 7A. Market risk</p></body></html>",
        # Mentions a cross-reference but has no index table: the Item path keeps it.
        "<html><body><p>See the cross-reference index.</p><p>Item 1A.</p><p>Item 7A.</p>"
        "</body></html>",
    ],
)
def test_ordinary_documents_return_none(html: str) -> None:
    assert cross_reference_sections(html) is None
