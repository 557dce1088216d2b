"""Page map of an HTML filing: block-level text split at page breaks, printed page numbers.

Annual-report style 10-Ks refer to their content by printed page number, so the text is
cut into the pages a reader sees (page-break styles, else `<hr>` separators, else
page-number-only footers) and each page gets the number printed on it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table tbody thead tfoot blockquote pre "
    "center section article header footer address form hr caption".split()
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "ix:header", "template"})
_BREAK_BEFORE = ("page-break-before:always", "break-before:page")
_BREAK_AFTER = ("page-break-after:always", "break-after:page")


@dataclass
class PageMap:
    """Cleaned block texts per physical page and the printed number of each page."""

    pages: list[list[str]]
    numbers: list[int | None]
    labels: list[str | None]
    by_number: dict[int, int] = field(default_factory=dict)
    following: dict[int, list[str]] = field(default_factory=dict)

    def page_of(self, number: int) -> int | None:
        """Physical page index carrying printed page `number`, or None."""
        return self.by_number.get(number)


def _style_flags(el: etree._Element) -> tuple[bool, bool, bool]:
    """(hidden, page break before, page break after) from the inline style."""
    style = el.get("style")
    if not style:
        return False, False, False
    low = style.lower()
    # Most elements carry fonts and margins only: skip the normalising copy for them.
    if "none" not in low and "always" not in low and "page" not in low:
        return False, False, False
    low = low.replace(" ", "")
    return (
        "display:none" in low,
        any(b in low for b in _BREAK_BEFORE),
        any(b in low for b in _BREAK_AFTER),
    )


def walk_blocks(
    root: etree._Element, marked: tuple[etree._Element, ...] = ()
) -> tuple[list[str], list[int], list[int], dict[int, tuple[int, int]]]:
    """Visible block texts in document order, with hard page-break and `<hr>` positions.

    `marked` elements get their (first, end) block positions reported, so callers can find
    what follows a table without a second walk.
    """
    blocks: list[str] = []
    hard: list[int] = []
    rules: list[int] = []
    marks: dict[int, tuple[int, int]] = {}
    marked_ids = {id(el): i for i, el in enumerate(marked)}
    cur: list[str] = []
    row_depth = 0
    images = [0]  # images since the last hard break: an image-only page is still a page
    # Per open element: (tag, break after, marked index) or None when hidden.
    stack: list[tuple[str, bool, int] | None] = []

    def flush() -> None:
        if cur:
            text = " ".join("".join(cur).replace("\u200b", "").split())
            cur.clear()
            if text:
                blocks.append(text)

    def hard_break() -> None:
        flush()
        # A page-break-before right after a page-break-after is one break, not two.
        if not hard or hard[-1] != len(blocks) or images[0]:
            hard.append(len(blocks))
        images[0] = 0

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        if event == "start":
            tag = el.tag.lower() if isinstance(el.tag, str) else ""
            hidden, before, after = _style_flags(el)
            if hidden or not tag or tag in _SKIP_TAGS:
                walker.skip_subtree()
                stack.append(None)
                continue
            if before and blocks:
                hard_break()
            mark = marked_ids.get(id(el), -1) if marked_ids else -1
            if mark >= 0:
                flush()
                marks[mark] = (len(blocks), -1)
            stack.append((tag, after, mark))
            if tag == "tr":
                if row_depth == 0:
                    flush()
                row_depth += 1
            elif tag in _BLOCK_TAGS:
                flush() if not row_depth else cur.append(" ")
            elif tag in ("td", "th", "br"):
                flush() if not row_depth and tag == "br" else cur.append(" ")
            elif tag == "img":
                images[0] += 1
            if tag == "hr":
                rules.append(len(blocks))
            if el.text:
                cur.append(el.text)
            continue
        # "end" events of skipped subtrees still arrive: ignore their bodies, keep tails.
        info = stack.pop()
        if info is not None:
            tag, after, mark = info
            if tag == "tr":
                row_depth -= 1
                if row_depth == 0:
                    flush()
            elif tag in _BLOCK_TAGS and not row_depth:
                flush()
            elif tag in _BLOCK_TAGS or tag in ("td", "th"):
                cur.append(" ")
            if mark >= 0:
                flush()
                marks[mark] = (marks[mark][0], len(blocks))
            if after:
                hard_break()
        if el.tail:
            cur.append(el.tail)
    flush()
    return blocks, hard, rules, marks


_NUM_ONLY = re.compile(r"^(?:page\s*)?(\d{1,3})(?:\s*of\s*\d{1,4})?$", re.I)
_ROMAN_ONLY = re.compile(r"^(?:page\s*)?([ivxlc]{1,7})$", re.I)
_TRAILING = re.compile(r"^(.{2,100}?)[\s|•·\-–—]+(\d{1,3})$")
_LEADING = re.compile(r"^(\d{1,3})[\s|•·\-–—]+(.{2,100})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def roman_to_int(text: str) -> int | None:
    """Value of a lower- or upper-case roman numeral, or None when it is not one."""
    values = [_ROMAN_VALUES.get(ch) for ch in text.lower()]
    if not values or None in values:
        return None
    total = 0
    for i, v in enumerate(values):
        total += -v if i + 1 < len(values) and v < values[i + 1] else v
    return total if total > 0 else None


def _candidates(blocks: list[str]) -> list[tuple[str, int, int, int]]:
    """(kind, number, block index, rank) of the page numbers a page's edges could carry."""
    out: list[tuple[str, int, int, int]] = []
    n = len(blocks)
    edges = sorted({*range(max(0, n - 3), n), *range(min(2, n))})
    for i in edges:
        text = blocks[i]
        if len(text) > 110:
            continue
        if m := _NUM_ONLY.match(text):
            out.append(("arabic", int(m.group(1)), i, 0))
        elif (m := _ROMAN_ONLY.match(text)) and (v := roman_to_int(m.group(1))):
            out.append(("roman", v, i, 0))
        elif (m := _TRAILING.match(text)) and re.search(r"[A-Za-z]", m.group(1)):
            out.append(("arabic", int(m.group(2)), i, 1))
        elif (m := _LEADING.match(text)) and re.search(r"[A-Za-z]", m.group(2)):
            out.append(("arabic", int(m.group(1)), i, 2))
    return out


def _vote(cands: list[list[tuple[str, int, int, int]]], window: int = 8) -> list[tuple | None]:
    """Per page, the candidate whose offset (number - page index) its neighbours share."""
    offsets = [{(k, v - p) for k, v, _, _ in cs} for p, cs in enumerate(cands)]
    chosen: list[tuple | None] = []
    for p, cs in enumerate(cands):
        best, best_key = None, None
        for k, v, i, rank in cs:
            lo, hi = max(0, p - window), min(len(cands), p + window + 1)
            support = sum((k, v - p) in offsets[q] for q in range(lo, hi) if q != p)
            key = (support, k == "arabic", -rank, i)
            if support and (best_key is None or key > best_key):
                best, best_key = (k, v, i), key
        chosen.append(best)
    return chosen


def _split(blocks: list[str], hard: list[int], rules: list[int]) -> list[list[str]]:
    if len(hard) >= 2:
        cuts = hard
    elif len(rules) >= 2:
        cuts = rules
    else:
        # No break markup at all: a page ends at each bare page-number footer.
        cuts = [i + 1 for i, b in enumerate(blocks) if _NUM_ONLY.match(b)]
    bounds = [0, *[c for c in cuts if 0 <= c <= len(blocks)], len(blocks)]
    pages = [blocks[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    # A break closing the last page leaves an empty tail that is no page at all.
    return pages[:-1] if len(pages) > 1 and not pages[-1] else pages


def build_page_map(root: etree._Element, marked: tuple[etree._Element, ...] = ()) -> PageMap:
    """Split the document into printed pages, number them and drop running headers/footers."""
    blocks, hard, rules, marks_at = walk_blocks(root, marked)
    raw = _split(blocks, hard, rules)
    chosen = _vote([_candidates(p) for p in raw])

    numbers: list[int | None] = [None] * len(raw)
    labels: list[str | None] = [None] * len(raw)
    for p, c in enumerate(chosen):
        if c is None:
            continue
        kind, value, i = c
        labels[p] = raw[p][i]
        if kind == "arabic":
            numbers[p] = value
    _fill_gaps(numbers, labels)

    # Running headers/footers repeat at page edges; they are layout, not content.
    edge_counts: Counter[str] = Counter()
    for p, page in enumerate(raw):
        skip = chosen[p][2] if chosen[p] else -1
        kept = [b for i, b in enumerate(page) if i != skip]
        edge_counts.update({b for b in kept[:2] + kept[-3:] if len(b) <= 120})
    min_repeats = max(3, len(raw) // 20)
    running = {t for t, c in edge_counts.items() if c >= min_repeats and re.search("[A-Za-z]", t)}

    pages: list[list[str]] = []
    for p, page in enumerate(raw):
        skip = chosen[p][2] if chosen[p] else -1
        n = len(page)
        pages.append(
            [
                b
                for i, b in enumerate(page)
                if i != skip and not (b in running and (i < 3 or i >= n - 4))
            ]
        )

    by_number: dict[int, int] = {}
    for p, num in enumerate(numbers):
        if num is not None and num not in by_number:
            by_number[num] = p
    # Text right after a marked element (the index table): where its footnotes are.
    following = {k: blocks[end : end + 80] for k, (_, end) in marks_at.items() if end >= 0}
    return PageMap(pages, numbers, labels, by_number, following)


def _fill_gaps(numbers: list[int | None], labels: list[str | None]) -> None:
    """Number unnumbered pages (covers, full-page images) when both neighbours agree."""
    known = [(p, n - p) for p, n in enumerate(numbers) if n is not None]
    if not known:
        return
    k = 0
    for p in range(len(numbers)):
        if numbers[p] is not None or labels[p] is not None:  # roman-numbered front matter
            continue
        while k < len(known) and known[k][0] < p:
            k += 1
        before = known[k - 1][1] if k > 0 else None
        after = known[k][1] if k < len(known) else None
        if before is not None and after is not None and before != after:
            continue
        offset = before if before is not None else after
        if offset is not None and p + offset >= 1:
            numbers[p] = p + offset
