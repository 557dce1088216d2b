"""Item sections from a filing's lines: heading candidates, then the best ordered chain.

Every line that looks like an Item heading is a candidate; the table of contents, the
cross-reference index and body headings all are. The chosen chain is the one that runs
through the Items in their canonical order, in document order, and covers the most body
text, where a candidate's body is the text up to the next candidate of any kind: a TOC
entry owns a title and a page number, a real heading owns its whole section.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

from memwise_assets.compute.filings.statements import (
    BODY,
    INCORPORATED,
    item_source,
    items_named_together,
)

ITEMS_10K = "1 1A 1B 1C 2 3 4 4A 5 6 7 7A 8 9 9A 9B 9C 10 11 12 13 14 15 16".split()
ITEMS_10Q = tuple(
    [f"P1-{i}" for i in "1 2 3 4".split()] + [f"P2-{i}" for i in "1 1A 2 3 4 5 6".split()]
)
# The signatures page: a row of its own after the last Item, never part of that Item.
SIGNATURES = "SIGNATURES"
_SIGNATURES_HEADING = re.compile(r"^\W*signatures?\W*$", re.I)
# What filers place after the signatures page: it belongs to the last Item (exhibits,
# schedules, financial statements), not to the signatures.
_AFTER_SIGNATURES = re.compile(
    r"^\W*(?:exhibits?\s+index|index\s+to\s+exhibits|report\s+of\s+independent"
    r"|index\s+to\s+(?:consolidated\s+)?financial\s+statements|financial\s+statements\b"
    r"|schedule\s+[ivx]+\b)",
    re.I,
)
_ID = r"\d{1,2}[A-Ca-c]?(?:\s*\([Tt]\))?"
_HEADING = re.compile(
    rf"^items?\s*(?P<ids>{_ID}(?:\s*(?:,|and|&)\s*{_ID})*)(?![\w(])(?P<rest>.*)$", re.I
)
_PART = re.compile(r"^part\s+(?P<num>iv|i{1,3}|[1-4])\b(?P<rest>.*)$", re.I)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_DELIMS = " .:-–—"
_CROSS_REF = re.compile(r"\bof this (?:report|annual report|form|quarterly report)\b", re.I)
_MAX_HEADING_CHARS = 300
_MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class Section:
    """One Item found in the lines: its normalised id, title and body text."""

    item: str
    title: str
    text: str
    source: str
    boundary: str


@dataclass(frozen=True)
class _Node:
    line: int
    lo: int  # canonical index of the first Item the heading names
    hi: int  # ... and of the last (they differ for "Items 1 and 2")
    items: tuple[str, ...]
    rest: str


def part_of(line: str) -> int | None:
    """1-4 for a "PART II - OTHER INFORMATION" heading line, else None."""
    if len(line) > 80:
        return None
    m = _PART.match(line)
    if not m:
        return None
    rest = m.group("rest").strip(_DELIMS)
    if rest[:1].islower() or rest.startswith(",") or "item" in rest.lower():
        return None
    return _ROMAN[m.group("num").lower()]


def _ids(text: str) -> list[str]:
    found = re.findall(r"(\d{1,2})([A-Ca-c]?)", re.sub(r"\([Tt]\)", "", text))
    return [f"{int(num)}{letter.upper()}" for num, letter in found]


def heading_ids(line: str) -> tuple[list[str], str] | None:
    """(['7A'], 'Quantitative ...') when the line reads like an Item heading, else None."""
    if len(line) > _MAX_HEADING_CHARS:
        return None
    m = _HEADING.match(line)
    if not m:
        return None
    raw_rest = m.group("rest")
    rest = raw_rest.strip(_DELIMS)
    # "Item 7, Management's ..." and "Item 7 of Part II" are references, not headings.
    if raw_rest.lstrip().startswith((",", "(", ";")) or rest[:1].islower():
        return None
    if len(line) > 120 and _CROSS_REF.search(rest):
        return None
    return _ids(m.group("ids")), rest


def _candidates(lines: list[str], order: tuple[str, ...], quarterly: bool) -> list[_Node]:
    index = {item: i for i, item in enumerate(order)}
    nodes: list[_Node] = []
    part: int | None = None
    for n, line in enumerate(lines):
        head = line[:6].lower()
        if head.startswith("part"):
            part = part_of(line) or part
            continue
        if not head.startswith("item"):
            continue
        found = heading_ids(line)
        if not found:
            continue
        ids, rest = found
        parts = ([part] if part in (1, 2) else [1, 2]) if quarterly else [None]
        for p in parts:
            items = tuple(f"P{p}-{i}" if p else i for i in ids)
            if all(i in index for i in items):
                lo, hi = index[items[0]], index[items[-1]]
                if lo <= hi:
                    nodes.append(_Node(n, lo, hi, items, rest))
    return nodes


def _chain(nodes: list[_Node], owned: list[int], n_items: int) -> list[_Node]:
    """The ordered chain of nodes with the most owned text (dynamic programming).

    Nodes come in line order; `ending[i]` is the best chain so far whose last Item has
    canonical index i, so each node looks at no more than `n_items` earlier states.
    """
    ending: list[tuple[int, int, int]] = [(0, -1, -1)] * n_items  # (score, line, node)
    back: list[int] = [-1] * len(nodes)
    best: list[int] = [0] * len(nodes)
    for line, group in itertools.groupby(range(len(nodes)), key=lambda j: nodes[j].line):
        same_line = list(group)
        # Nodes of one line are alternatives, never links of the same chain: read state first.
        for j in same_line:
            score, _, prev = max(ending[: nodes[j].lo], default=(0, -1, -1))
            best[j], back[j] = score + owned[j] + 1, prev
        for j in same_line:
            # Ties go to the later heading: the body comes after the table of contents.
            ending[nodes[j].hi] = max(ending[nodes[j].hi], (best[j], line, j))
    if not nodes:
        return []
    j = max(ending)[2]
    chain = []
    while j >= 0:
        chain.append(nodes[j])
        j = back[j]
    return chain[::-1]


def _owned(nodes: list[_Node], lines: list[str]) -> list[int]:
    if not nodes:
        return []
    starts = sorted({node.line for node in nodes})
    cum = [0]
    for line in lines:
        cum.append(cum[-1] + len(line) + 1)
    after = dict(zip(starts, [*starts[1:], len(lines)], strict=True))
    return [cum[after[node.line]] - cum[node.line + 1] for node in nodes]


def _signatures_page(lines: list[str], start: int) -> tuple[int, int]:
    """(heading, end) of the signatures page after line `start`; (len, len) when none."""
    heading = next(
        (
            n
            for n in range(start, len(lines))
            if len(lines[n]) <= 20 and _SIGNATURES_HEADING.match(lines[n])
        ),
        len(lines),
    )
    end = next(
        (
            n
            for n in range(heading + 1, len(lines))
            if len(lines[n]) <= 80 and _AFTER_SIGNATURES.match(lines[n])
        ),
        len(lines),
    )
    return heading, end


def _incorporated_together(sections: list[Section]) -> list[Section]:
    """Empty Items that another Item's joint statement incorporates are marked so too."""
    named: set[str] = set()
    for section in sections:
        if section.source == INCORPORATED:
            named |= items_named_together(section.text)
    return [
        replace(s, source=INCORPORATED)
        if s.item in named and not s.text and s.source == BODY
        else s
        for s in sections
    ]


def find_sections(lines: list[str], form: str) -> list[Section]:
    """Item sections of a 10-K or 10-Q in document order; [] when no heading is found."""
    quarterly = form == "10-Q"
    order = ITEMS_10Q if quarterly else ITEMS_10K
    nodes = _candidates(lines, order, quarterly)
    chain = _chain(nodes, _owned(nodes, lines), len(order))
    candidate_lines = {node.line for node in nodes}
    sections: list[Section] = []
    signed, annex = _signatures_page(lines, chain[-1].line + 1) if chain else (0, 0)
    for k, node in enumerate(chain):
        body_from = node.line + 1
        last = k + 1 == len(chain)
        end = signed if last else chain[k + 1].line
        title = node.rest
        if not title and body_from < end and body_from not in candidate_lines:
            nxt = lines[body_from]
            if len(nxt) <= _MAX_TITLE_CHARS and part_of(nxt) is None:
                title, body_from = nxt, body_from + 1
        while end > body_from and part_of(lines[end - 1]) is not None:
            end -= 1
        # What follows the signatures page (exhibit index, schedules) is the last Item's.
        text = "\n".join(lines[body_from:end] + (lines[annex:] if last else []))
        title = title.strip(_DELIMS)
        boundary = "combined" if len(node.items) > 1 else "heading"
        for item in node.items:
            sections.append(Section(item, title, text, item_source(title, text), boundary))
    if chain and signed < len(lines):
        text = "\n".join(lines[signed + 1 : annex])
        sections.append(Section(SIGNATURES, "Signatures", text, BODY, "heading"))
    return _incorporated_together(sections)
