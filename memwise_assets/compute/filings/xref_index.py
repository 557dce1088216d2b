"""The "Form 10-K Cross Reference Index" table: which printed pages hold each Item.

Rows look like `Item 7. | Management's Discussion ... | 6-25`, `Item 10. | ... | 82, (a)`,
`Item 4. | Mine Safety Disclosures | Not applicable`, or an Item row followed by topic rows
(`Liquidity and capital resources | Pages 5-6, 42-44`). Footnote marks such as `(a)` point
to statements under the table ("(a) Incorporated by reference to ... Proxy Statement").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

_LABEL = re.compile(
    r"^items?\s*(\d{1,2}[a-c]?)\b\.?(?:\s*(?:and|,|&)\s*(\d{1,2}[a-c]?)\b\.?)?\s*[:.\-–—]?\s*(.*)$",
    re.I,
)
_RANGE = r"\d{1,3}(?:\s*[-–—]\s*\d{1,3})?"
_REFS = re.compile(
    rf"^(?:pages?\s*)?(?P<nums>{_RANGE}(?:\s*(?:,|;|and|&)\s*{_RANGE})*)?\s*,?\s*"
    r"(?P<marks>(?:\(\s*[a-z0-9]{1,2}\s*\)\s*,?\s*|\*+\s*)*)$",
    re.I,
)
_TRAILING_REFS = re.compile(rf"^(.*?\S)\s+((?:pages?\s*)?{_RANGE}(?:\s*,\s*{_RANGE})*)$", re.I)
_NOT_APPLICABLE = re.compile(
    r"^(?:not\s+applicable|none|n/?a|omitted|not\s+required|\[?\s*reserved\s*\]?)\.?$", re.I
)
_FOOTNOTE = re.compile(r"^(\(\s*[a-z0-9]{1,2}\s*\)|\*+)\s*(\S.*)$", re.I)
_ITEM_LABEL_IN_TEXT = re.compile(r"\bitems?\s*(\d{1,2}[a-c]?)\b", re.I)
_STOP_ROWS = re.compile(r"^(?:part\s+[ivx]+\b|signatures?\b|exhibits?\b)", re.I)


@dataclass
class IndexRange:
    """Printed pages `first`..`last` (inclusive) listed for an Item, under an optional topic."""

    first: int
    last: int
    topic: str = ""


@dataclass
class IndexEntry:
    """One Item of the cross-reference index."""

    item: str
    title: str
    ranges: list[IndexRange] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    statement: str = ""


def _norm(text: str) -> str:
    return " ".join(text.replace("\u200b", "").split())


def _mark_key(mark: str) -> str:
    return re.sub(r"\s+", "", mark).lower()


def _item_label(raw: str) -> str:
    """Normalised Item label: "01a" -> "1A"."""
    digits = re.match(r"\d+", raw)
    return str(int(digits.group())) + raw[digits.end() :].upper() if digits else raw.upper()


def _parse_refs(text: str) -> tuple[list[tuple[int, int]], list[str]] | None:
    """Page ranges and footnote marks of a reference cell, or None when it is not one."""
    m = _REFS.match(text.strip())
    if not m or not (m.group("nums") or m.group("marks").strip()):
        return None
    ranges: list[tuple[int, int]] = []
    for part in re.findall(_RANGE, m.group("nums") or ""):
        ends = [int(x) for x in re.findall(r"\d+", part)]
        first, last = ends[0], ends[-1]
        # "Pages 116-20" style abbreviations are not used by these filers; a reversed
        # range is a typo, so it is read as the single first page.
        ranges.append((first, last if last >= first else first))
    marks = [_mark_key(x) for x in re.findall(r"\(\s*[a-z0-9]{1,2}\s*\)|\*+", m.group("marks"))]
    return ranges, marks


def _is_hidden(el: etree._Element) -> bool:
    for anc in el.iterancestors():
        if "display:none" in (anc.get("style") or "").replace(" ", "").lower():
            return True
    return False


def _preceding_text(el: etree._Element, limit: int = 400) -> str:
    """Text just before `el` in document order (the index's heading often sits there)."""
    parts: list[str] = []
    size = 0
    node: etree._Element | None = el
    while node is not None and size < limit:
        for sib in node.itersiblings(preceding=True):
            if not isinstance(sib.tag, str):
                continue
            text = "".join(sib.itertext())
            parts.append(text)
            size += len(text.strip())
            if size >= limit:
                break
        node = node.getparent()
    return " ".join(parts)


def find_index_table(root: etree._Element) -> etree._Element | None:
    """The table listing Items with page references under a cross-reference heading."""
    best: tuple[int, etree._Element] | None = None
    for table in root.iter("table"):
        text = _norm(" ".join(table.itertext()))
        labels = {m.upper() for m in _ITEM_LABEL_IN_TEXT.findall(text)}
        if len(labels) < 5 or len(text) > 20_000 or _is_hidden(table):
            continue
        if not _mentions_xref(text) and not _mentions_xref(_preceding_text(table)):
            continue
        if best is None or len(labels) > best[0]:
            best = (len(labels), table)
    return best[1] if best else None


def _mentions_xref(text: str) -> bool:
    return re.search(r"cross[\s\-\u2010\u2011]*reference", text, re.I) is not None


def table_rows(table: etree._Element) -> list[list[str]]:
    """Non-empty cell texts of each row of `table` (not of tables nested in it)."""
    rows: list[list[str]] = []
    for tr in table.iter("tr"):
        cells = [_norm("".join(td.itertext())) for td in tr if td.tag in ("td", "th")]
        cells = [c for c in cells if c]
        if cells:
            rows.append(cells)
    return rows


def parse_index(rows: list[list[str]]) -> tuple[list[IndexEntry], dict[str, str]]:
    """Items of the index in order, and footnote statements found inside the table."""
    entries: list[IndexEntry] = []
    notes: dict[str, str] = {}
    current: list[IndexEntry] = []
    open_for_topics = False
    for cells in rows:
        joined = " ".join(cells)
        m = _LABEL.match(cells[0])
        if m is None:
            if fm := _FOOTNOTE.match(joined):
                if not _parse_refs(joined):
                    notes[_mark_key(fm.group(1))] = fm.group(2)
                    continue
            if _STOP_ROWS.match(joined) or not current or not open_for_topics:
                current, open_for_topics = ([] if _STOP_ROWS.match(joined) else current), False
                continue
            topic, ranges, marks, statement = _classify(cells)
            for entry in current:
                entry.ranges += [IndexRange(a, b, topic) for a, b in ranges]
                entry.marks += marks
                entry.statement = entry.statement or statement
            continue
        labels = [_item_label(m.group(1))] + ([_item_label(m.group(2))] if m.group(2) else [])
        rest = ([m.group(3)] if m.group(3) else []) + cells[1:]
        title, ranges, marks, statement = _classify(rest)
        current = []
        for label in labels:
            entry = IndexEntry(label, title.rstrip(" :"), [IndexRange(a, b) for a, b in ranges])
            entry.marks, entry.statement = list(marks), statement
            entries.append(entry)
            current.append(entry)
        # Topic rows below an Item row belong to it only when the Item row gave no pages.
        open_for_topics = not (ranges or marks or statement)
    return entries, notes


def _classify(cells: list[str]) -> tuple[str, list[tuple[int, int]], list[str], str]:
    """Split a row's cells into title text, page ranges, footnote marks and a statement."""
    title: list[str] = []
    ranges: list[tuple[int, int]] = []
    marks: list[str] = []
    statement = ""
    for cell in cells:
        refs = _parse_refs(cell)
        if refs is not None:
            ranges += refs[0]
            marks += refs[1]
        elif _NOT_APPLICABLE.match(cell) or re.match(r"^incorporated\s+by\s+reference", cell, re.I):
            if not title and "reserved" in cell.lower():
                title.append(cell)  # "Item 6. [Reserved]" names the Item as well
            statement = cell if not statement or "reserved" in statement.lower() else statement
        else:
            title.append(cell)
    text = " ".join(title)
    if not ranges and not marks and (m := _TRAILING_REFS.match(text)):
        refs = _parse_refs(m.group(2))
        if refs is not None:
            text, ranges, marks = m.group(1), refs[0], refs[1]
    return text, ranges, marks, statement


def footnotes_after(blocks: list[str]) -> dict[str, str]:
    """Footnote statements (`(a) Incorporated by reference to ...`) in the text after the index."""
    notes: dict[str, str] = {}
    for block in blocks:
        if m := _FOOTNOTE.match(block):
            notes.setdefault(_mark_key(m.group(1)), m.group(2))
    return notes
