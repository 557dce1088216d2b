"""Page furniture: page numbers, running headers/footers and "Table of Contents" links."""

from __future__ import annotations

import re
from collections import defaultdict

from memwise_assets.compute.filings.blocks import PAGE_BREAK

_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-–—(\[]?\s*(?:\d{1,3}(?:\s+of\s+\d{1,3})?|[ivxlc]{1,7}|[A-Z]{1,2}\s*-\s*\d{0,3})\s*[-–—)\]]?$",
    re.I,
)
_TOC_LINK = re.compile(
    r"^(?:back to|return to|go to)?\s*(?:the\s+)?(?:table of contents|contents|index)\.?$", re.I
)
_TRAILING_NUMBER = re.compile(r"^(?P<key>.*?\D)\s*(?P<num>\d{1,3})$")
_LEADING_NUMBER = re.compile(r"^(?P<num>\d{1,3})\s*(?P<key>\D.*)$")
_WORD = re.compile(r"[^\W\d_]")
_MIN_REPEATS = 4
_MAX_FURNITURE_CHARS = 100
_EDGE_LINES = 3  # lines after/before a page break that may be a running header/footer
_EDGE_SHARE = 0.25


def _running_lines(lines: list[str]) -> set[int]:
    """Indexes of short lines repeated with a page number that grows through the document."""
    groups: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for i, line in enumerate(lines):
        if len(line) > _MAX_FURNITURE_CHARS:
            continue
        for side, pattern in (("end", _TRAILING_NUMBER), ("start", _LEADING_NUMBER)):
            m = pattern.match(line)
            # A running header or footer has words ("Apple Inc. | 2024 Form 10-K | 12");
            # "10.1", "10.2" ... of an exhibit list have none and are text.
            if m and _WORD.search(m.group("key")):
                groups[(side, m.group("key").strip())].append((i, int(m.group("num"))))
    drop: set[int] = set()
    for hits in groups.values():
        if len(hits) < _MIN_REPEATS:
            continue
        nums = [n for _, n in hits]
        rising = sum(b > a for a, b in zip(nums, nums[1:], strict=False))
        # Page numbers climb; amounts in repeated table rows do not.
        if rising >= 0.8 * (len(nums) - 1):
            drop.update(i for i, _ in hits)
    return drop


def _page_edges(lines: list[str]) -> set[int]:
    """Indexes of short lines found verbatim at the same edge spot of many pages."""
    breaks = [i for i, line in enumerate(lines) if line == PAGE_BREAK]
    # A running header sits on most pages; a short "None." item only now and then.
    needed = max(_MIN_REPEATS - 1, int(_EDGE_SHARE * len(breaks)))
    if len(breaks) < needed:
        return set()
    near: dict[tuple[str, int], list[int]] = defaultdict(list)
    for b in breaks:
        for offset in (*range(-_EDGE_LINES, 0), *range(1, _EDGE_LINES + 1)):
            i = b + offset
            if 0 <= i < len(lines) and len(lines[i]) <= _MAX_FURNITURE_CHARS:
                near[(lines[i], offset)].append(i)
    return {i for hits in near.values() if len(hits) >= needed for i in hits}


def strip_furniture(lines: list[str]) -> list[str]:
    """Lines without page numbers, running headers/footers and repeated TOC links."""
    toc_links = sum(1 for line in lines if len(line) < 40 and _TOC_LINK.match(line))
    running = _running_lines(lines) | _page_edges(lines)
    kept = []
    for i, line in enumerate(lines):
        if line == PAGE_BREAK or i in running or (len(line) < 24 and _PAGE_NUMBER.match(line)):
            continue
        if len(line) < 40 and _TOC_LINK.match(line):
            # A lone "Index" may be a real heading; a repeated one is a per-page link.
            if toc_links >= 3 or "content" in line.lower():
                continue
        kept.append(line)
    return kept
