"""Sections of 10-Ks laid out as annual reports with a "Form 10-K Cross Reference Index".

`filing_sections` tries this layout first and keeps its ordinary Item-by-Item path when
`cross_reference_sections` returns None (no cross-reference index found).

GE and Intel, for instance, print their 10-K as an annual report and map each Item to
printed pages in an index table. Each Item is rebuilt from those pages, trimmed to the
section's heading where a range starts or ends mid-page.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass

from lxml import etree

from memwise_assets.compute.filings.xref_index import (
    IndexEntry,
    IndexRange,
    find_index_table,
    footnotes_after,
    parse_index,
    table_rows,
)
from memwise_assets.compute.filings.xref_pages import PageMap, build_page_map

log = logging.getLogger(__name__)

SOURCES = ("body", "cross-reference", "incorporated-by-reference", "not-applicable")


@dataclass(frozen=True)
class XrefSection:
    """One Item assembled from the cross-reference index."""

    item: str
    title: str
    text: str
    source: str  # body | cross-reference | incorporated-by-reference | not-applicable
    boundary: str  # heading | page (cross-reference rows); index (text from the index itself)
    pages: str = ""  # printed pages used, as listed by the index ("6-25" or "16, 74-76")
    note: str = ""  # incorporated-by-reference statement that accompanies page ranges


# Headings filers use for a section besides the Item's official title.
_HEADINGS: dict[str, tuple[str, ...]] = {
    "1": ("business",),
    "1A": ("risk factors",),
    "1C": ("cybersecurity",),
    "2": ("properties",),
    "3": ("legal proceedings",),
    "5": (
        "market for registrant's common equity",
        "market for the registrant's common equity",
        "market for our common stock",
    ),
    "7": ("management's discussion and analysis",),
    "7A": ("quantitative and qualitative disclosures about market risk",),
    "8": ("financial statements and supplementary data",),
    "9A": ("controls and procedures",),
    "10": (
        "directors, executive officers and corporate governance",
        "information about our executive officers",
        "executive officers of the registrant",
    ),
    "15": ("exhibits and financial statement schedules", "exhibits, financial statement schedules"),
    "16": ("form 10-k summary",),
}
_HEADING_TAIL = re.compile(r"^\s*(?:$|[.:(\u2014\u2013-])")
_XREF_NEAR = 9  # "cross-reference": the chars before "reference" that must hold "cross"
_ITEM_1A = re.compile(r"Item(?:\s|&#160;|&nbsp;|&#xa0;|<[^>]{0,400}>){0,12}1A", re.I)
_ITEM_7A = re.compile(r"Item(?:\s|&#160;|&nbsp;|&#xa0;|<[^>]{0,400}>){0,12}7A", re.I)


def has_cross_reference_index(html: str) -> bool:
    """Cheap pre-check: a "cross reference" mention with Items 1A and 7A close after it."""
    # str.find runs at memory speed; a case-insensitive regex over the whole document
    # costs ~15x more and every ordinary filing would pay it.
    for needle in ("eference", "EFERENCE"):
        at = html.find(needle)
        while at != -1:
            if "cross" in html[max(0, at - _XREF_NEAR) : at].lower():
                window = html[max(0, at - 3_000) : at + 60_000]
                if _ITEM_1A.search(window) and _ITEM_7A.search(window):
                    return True
            at = html.find(needle, at + len(needle))
    return False


def cross_reference_sections(html: str) -> list[XrefSection] | None:
    """Items of a cross-reference-index 10-K in index order, or None for ordinary layouts."""
    if not html or not has_cross_reference_index(html):
        return None
    try:
        root = _parse_html(html)
    except (etree.ParserError, ValueError) as exc:
        log.warning("cross-reference pre-check matched but the HTML does not parse: %s", exc)
        return None
    if root is None:
        return None
    table = find_index_table(root)
    if table is None:
        return None
    entries, notes = parse_index(table_rows(table))
    entries = _merge_duplicates(entries)
    if len(entries) < 5:
        return None
    pages = build_page_map(root, (table,))
    notes = {**footnotes_after(pages.following.get(0, [])), **notes}
    wanted = [n for e in entries for r in e.ranges for n in range(r.first, r.last + 1)]
    found = sum(pages.page_of(n) is not None for n in wanted)
    if wanted and found < 0.5 * len(wanted):
        # Without printed page numbers the index cannot be followed: let the Item path try.
        log.warning("cross-reference index found but only %d/%d pages located", found, len(wanted))
        return None
    return _assemble(entries, pages, notes)


def _parse_html(html: str) -> etree._Element | None:
    """lxml tree of the document (plain elements: the HtmlElement class lookup costs ~20%)."""
    # lxml refuses str input that still declares an encoding.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", html, count=1)
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)
    return etree.fromstring(text, parser)


def _merge_duplicates(entries: list[IndexEntry]) -> list[IndexEntry]:
    """One entry per Item, at its first position; later rows add their pages and marks."""
    merged: dict[str, IndexEntry] = {}
    for entry in entries:
        if entry.item in merged:
            first = merged[entry.item]
            first.ranges += entry.ranges
            first.marks += [m for m in entry.marks if m not in first.marks]
            first.statement = first.statement or entry.statement
        else:
            merged[entry.item] = entry
    return list(merged.values())


def _heading_pattern(phrase: str) -> re.Pattern[str]:
    words = re.findall(r"[a-z0-9]+", phrase.lower())
    return re.compile(
        r"^\W*" + r"\W+".join(map(re.escape, words)) + r"(?![a-z0-9])(.*)$", re.I | re.S
    )


def _find_heading(blocks: list[str], phrases: list[str]) -> int | None:
    """Index of the first block that is a heading naming one of `phrases`."""
    patterns = [_heading_pattern(p) for p in phrases if re.search("[A-Za-z]", p)]
    for i, block in enumerate(blocks):
        if len(block) > 3_000:
            continue
        for pattern in patterns:
            m = pattern.match(block)
            # A heading stands alone ("Risk Factors") or runs in ("RISK FACTORS. The ...").
            if m and _HEADING_TAIL.match(m.group(1)):
                return i
    return None


def _page_list(ranges_text: list[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges_text)


def _assemble(
    entries: list[IndexEntry], pages: PageMap, notes: dict[str, str]
) -> list[XrefSection]:
    """Build each Item's row from its page ranges, or from its index statement."""
    starts: dict[tuple[int, int], int | None] = {}
    starts_on_page: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for ei, entry in enumerate(entries):
        for ri, rng in enumerate(entry.ranges):
            page = pages.page_of(rng.first)
            if page is None:
                continue
            phrases = [rng.topic, entry.title, *_HEADINGS.get(entry.item, ())]
            block = _find_heading(pages.pages[page], [p for p in phrases if p])
            starts[(ei, ri)] = block
            if block is not None:
                starts_on_page[page].append((block, entry.item))

    sections: list[XrefSection] = []
    for ei, entry in enumerate(entries):
        statement = " ".join(notes.get(m, "") for m in entry.marks).strip() or entry.statement
        if entry.marks and not statement:
            statement = f"See note {' '.join(entry.marks)} of the cross-reference index"
        if not entry.ranges:
            sections.append(_statement_row(entry, statement))
            continue
        taken: set[tuple[int, int]] = set()
        parts: list[str] = []
        all_headings = True
        for ri, rng in enumerate(entry.ranges):
            first_block = starts.get((ei, ri))
            spans = _range_spans(rng, first_block, entry.item, pages, starts_on_page)
            fresh = [(p, b) for p, lo, hi in spans for b in range(lo, hi) if (p, b) not in taken]
            # A range wholly covered by earlier ones adds no text and says nothing of bounds.
            if fresh:
                all_headings &= first_block is not None
            taken.update(fresh)
            parts += [pages.pages[p][b] for p, b in fresh]
        note = statement if statement and statement not in ("Not applicable", "None") else ""
        text = "\n".join(parts + ([note] if note else []))
        sections.append(
            XrefSection(
                item=entry.item,
                title=entry.title,
                text=text,
                source="cross-reference",
                boundary="heading" if all_headings else "page",
                pages=_page_list([(r.first, r.last) for r in entry.ranges]),
                note=note,
            )
        )
    return sections


def _range_spans(
    rng: IndexRange,
    first_block: int | None,
    item: str,
    pages: PageMap,
    starts_on_page: dict[int, list[tuple[int, str]]],
) -> list[tuple[int, int, int]]:
    """(page, first block, end block) spans of one index range, trimmed to headings."""
    numbered = [pages.page_of(n) for n in range(rng.first, rng.last + 1)]
    located = [p for p in numbered if p is not None]
    if len(located) < len(numbered):
        log.warning("Item %s: pages %d-%d not all found", item, rng.first, rng.last)
    spans: list[tuple[int, int, int]] = []
    for k, page in enumerate(located):
        lo = (first_block or 0) if k == 0 else 0
        hi = len(pages.pages[page])
        if k == len(located) - 1:
            # The range ends where another Item's heading starts on its last page.
            others = starts_on_page.get(page, [])
            hi = min((b for b, it in others if it != item and (b > lo or k > 0)), default=hi)
        spans.append((page, lo, hi))
    return spans


def _statement_row(entry: IndexEntry, statement: str) -> XrefSection:
    """Row of an Item the index answers with a statement instead of pages."""
    incorporated = bool(entry.marks) or "incorporat" in statement.lower()
    return XrefSection(
        item=entry.item,
        title=entry.title,
        text=statement or entry.title,
        source="incorporated-by-reference" if incorporated else "not-applicable",
        boundary="index",
    )
